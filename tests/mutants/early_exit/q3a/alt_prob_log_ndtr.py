"""prob_final_nonpositive through log Φ (torch.special.log_ndtr is accurate in the lower tail),
and through scipy-free math.erfc for plain numbers."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def prob_final_nonpositive(M, k):
    if not isinstance(M, torch.Tensor) and not isinstance(k, torch.Tensor):
        sigma = math.sqrt(2.0 ** (1 - k))
        return 0.5 * math.erfc(M / sigma / math.sqrt(2.0))
    ref = M if isinstance(M, torch.Tensor) else k
    M = torch.as_tensor(M, device=ref.device)
    if not M.is_floating_point():
        M = M.to(torch.get_default_dtype())
    k = torch.as_tensor(k, device=ref.device, dtype=M.dtype)
    return torch.special.log_ndtr(-M * torch.exp2((k - 1) / 2)).exp()


Q3A_II = float(prob_final_nonpositive(5.0, 1))
Q3A_III = float(prob_final_nonpositive(1e-5, 40))

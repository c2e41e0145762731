"""prob_final_nonpositive divides M by the variance 2^(1-k) instead of the standard deviation."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "standard deviation"

# ---- code below is appended to the reference module (later definitions win) ----
def prob_final_nonpositive(M, k):
    if isinstance(M, torch.Tensor) or isinstance(k, torch.Tensor):
        M_t = torch.as_tensor(M, dtype=torch.get_default_dtype()) if not isinstance(M, torch.Tensor) else M
        k_t = torch.as_tensor(k, device=M_t.device).to(M_t.dtype)
        return 0.5 * torch.special.erfc(M_t / (torch.exp2(1 - k_t) * math.sqrt(2.0)))
    return 0.5 * math.erfc(float(M) / (2.0 ** (1 - k) * math.sqrt(2.0)))

"""prob_final_nonpositive uses variance 2^-k for the remaining sum (the sum starts one term late)."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "off by one in k"

# ---- code below is appended to the reference module (later definitions win) ----
def prob_final_nonpositive(M, k):
    if isinstance(M, torch.Tensor) or isinstance(k, torch.Tensor):
        M_t = torch.as_tensor(M, dtype=torch.get_default_dtype()) if not isinstance(M, torch.Tensor) else M
        k_t = torch.as_tensor(k, device=M_t.device).to(M_t.dtype)
        return 0.5 * torch.special.erfc(M_t / (torch.exp2(-k_t / 2) * math.sqrt(2.0)))
    return 0.5 * math.erfc(float(M) / (2.0 ** (-k / 2) * math.sqrt(2.0)))


Q3A_II = prob_final_nonpositive(5.0, 1)
Q3A_III = prob_final_nonpositive(1e-5, 40)

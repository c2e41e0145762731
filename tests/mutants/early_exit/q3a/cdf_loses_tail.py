"""prob_final_nonpositive computes Φ(z) as 1 - Φ(-z) (and torch.special.ndtr for tensors): right in
the bulk, but the tiny tail probabilities of 3a-iii lose all relative accuracy."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "accurate in the lower tail"

# ---- code below is appended to the reference module (later definitions win) ----
def prob_final_nonpositive(M, k):
    if isinstance(M, torch.Tensor) or isinstance(k, torch.Tensor):
        M_t = torch.as_tensor(M, dtype=torch.get_default_dtype()) if not isinstance(M, torch.Tensor) else M
        k_t = torch.as_tensor(k, device=M_t.device).to(M_t.dtype)
        return torch.special.ndtr(-M_t / torch.exp2((1 - k_t) / 2))
    z = float(M) / 2.0 ** ((1 - k) / 2)
    return 1.0 - 0.5 * math.erfc(-z / math.sqrt(2.0))


Q3A_II = prob_final_nonpositive(5.0, 1)
Q3A_III = prob_final_nonpositive(1e-5, 40)

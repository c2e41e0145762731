"""sample_forward multiplies the (B,) survival probabilities into x0 without reshaping to (B, 1, ..., 1)."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "must match the size of tensor"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = survival_prob(t, delta)
    if isinstance(keep_prob, torch.Tensor):
        keep_prob = keep_prob.to(x0.device)
    kept = uniform_like(x0, generator) < keep_prob          # (B,) broadcasts against the LAST dim
    fair = torch.where(uniform_like(x0, generator) < 0.5, 1.0, -1.0).to(x0.dtype)
    return torch.where(kept, x0, fair)

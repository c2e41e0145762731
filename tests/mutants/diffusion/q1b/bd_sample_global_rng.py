"""sample_forward ignores the generator and draws from torch's global random state."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "generator=generator"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    kept = torch.rand_like(x0) < keep_prob
    fair = torch.where(torch.rand_like(x0) < 0.5, 1.0, -1.0).to(x0.dtype)
    return torch.where(kept, x0, fair)

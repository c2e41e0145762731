"""sample_forward draws coins of shape x0.shape[1:], so every example in the batch gets the same coins."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "coins seem to be shared across the batch"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    u1 = uniform_like(x0[0], generator)
    u2 = uniform_like(x0[0], generator)
    kept = u1 < keep_prob
    fair = torch.where(u2 < 0.5, 1.0, -1.0).to(x0.dtype)
    return torch.where(kept, x0, fair)

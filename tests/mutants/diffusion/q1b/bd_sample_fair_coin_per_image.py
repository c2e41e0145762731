"""sample_forward replaces pixels independently but with one fair coin per image."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "its own independent coins"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    kept = uniform_like(x0, generator) < keep_prob
    per_image = uniform_like(x0[:, :1], generator)                    # (B, 1, ...)
    fair = torch.where(per_image < 0.5, 1.0, -1.0).to(x0.dtype).expand_as(x0)
    return torch.where(kept, x0, fair)

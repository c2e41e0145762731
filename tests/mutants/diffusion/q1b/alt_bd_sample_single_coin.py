"""sample_forward with one coin per pixel: flip with probability (1 - s) / 2, s = survival_prob(t, δ)."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    s = broadcast_per_example(survival_prob(t, delta), x0)
    flip = uniform_like(x0, generator) < (1 - s) / 2
    return torch.where(flip, -x0, x0)

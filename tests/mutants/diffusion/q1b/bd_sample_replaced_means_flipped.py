"""sample_forward flips every replaced pixel instead of drawing a fair coin for it."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "FAIR coin"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    kept = uniform_like(x0, generator) < keep_prob
    return torch.where(kept, x0, -x0)

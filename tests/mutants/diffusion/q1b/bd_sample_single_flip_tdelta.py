"""sample_forward treats t steps of flips with probability δ as one flip with probability tδ."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "single flip with probability t*delta"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    flip_prob = broadcast_per_example(t * delta, x0).clamp(max=1.0) if isinstance(t, torch.Tensor) \
        else min(1.0, t * delta)
    flip = uniform_like(x0, generator) < flip_prob
    return torch.where(flip, -x0, x0)

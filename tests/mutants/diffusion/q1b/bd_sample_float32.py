"""sample_forward builds its output with torch.where(..., 1.0, -1.0) and returns float32 for float64 x0."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "keep x0's dtype"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    kept = uniform_like(x0, generator) < keep_prob
    fair = torch.where(uniform_like(x0, generator) < 0.5, 1.0, -1.0)
    return torch.where(kept, x0.float(), fair.float())

"""sample_forward uses the first entry of a per-example t for the whole batch."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "per-example t was not applied"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    if isinstance(t, torch.Tensor):
        t = int(t.reshape(-1)[0])
    keep_prob = survival_prob(t, delta)
    kept = uniform_like(x0, generator) < keep_prob
    fair = torch.where(uniform_like(x0, generator) < 0.5, 1.0, -1.0).to(x0.dtype)
    return torch.where(kept, x0, fair)

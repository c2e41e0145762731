"""sample_forward draws one pair of coins for the whole tensor, shared by all pixels and examples."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "its own independent coins"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)
    u = torch.rand(2, generator=generator, dtype=x0.dtype).to(x0.device)
    fair = 1.0 if float(u[1]) < 0.5 else -1.0
    return torch.where(u[0] < keep_prob, x0, torch.full_like(x0, fair))

"""q_sample multiplies by float64 schedule values without casting back: float32 x0 gives float64."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "keep x0's shape and dtype"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0, generator)
    abar = alpha_bar(betas.to(torch.float64))
    if isinstance(t, torch.Tensor):
        abar_t = abar[t].reshape((-1,) + (1,) * (x0.dim() - 1))
    else:
        abar_t = abar[t]
    return abar_t.sqrt() * x0 + (1 - abar_t).sqrt() * noise

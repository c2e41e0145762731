"""q_sample (noise=None) draws one noise value per example and shares it across that example's coordinates."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "all its coordinates got the same noise value"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0.reshape(x0.shape[0], -1)[:, :1], generator)
        noise = noise.reshape((-1,) + (1,) * (x0.dim() - 1)).expand_as(x0)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

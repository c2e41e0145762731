"""q_sample draws uniform noise (torch.rand) instead of standard normal noise when noise is None."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "not torch.rand"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = torch.rand(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

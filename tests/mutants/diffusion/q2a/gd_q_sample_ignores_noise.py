"""q_sample always draws fresh noise, ignoring the noise argument."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "noise argument"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    noise = normal_like(x0, generator)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

"""q_sample scales the noise by (1 - ᾱ_t) instead of its square root."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "sqrt(1 - ᾱ_t)"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0, generator)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar) * noise

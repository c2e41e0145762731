"""q_sample scales x0 by ᾱ_t instead of sqrt(ᾱ_t)."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "sqrt(ᾱ_t)"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0, generator)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar * x0 + (1 - abar).sqrt() * noise

"""q_sample indexes alpha_bar with t - 1 (as if it had no leading 1), i.e. uses ᾱ_{t-1}."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "ᾱ_{t-1}"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0, generator)
    abar = extract(alpha_bar(betas.to(torch.float64)), t - 1, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

"""q_sample ignores the generator when noise is None and draws from torch's global random state."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "generator=generator"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = torch.randn_like(x0)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

"""q_sample (noise=None) draws noise of shape x0.shape[1:], so every example gets the same noise."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "independent noise for every example"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = normal_like(x0[0], generator).expand_as(x0)
    abar = extract(alpha_bar(betas.to(torch.float64)), t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

"""q_sample uses t[0] for every example of a per-example t."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "its own t[b]"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if isinstance(t, torch.Tensor):
        t = int(t.reshape(-1)[0])
    if noise is None:
        noise = normal_like(x0, generator)
    abar = float(alpha_bar(betas.to(torch.float64))[t])
    return abar ** 0.5 * x0 + (1 - abar) ** 0.5 * noise

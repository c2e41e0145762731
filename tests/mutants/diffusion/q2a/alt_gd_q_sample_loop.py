"""q_sample with a Python loop over examples for a per-example t, using alpha_bar in betas' dtype."""
MODULE = "gaussian_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    noise = noise.to(x0.device)
    abar = alpha_bar(betas.double())
    ts = t.tolist() if isinstance(t, torch.Tensor) else [t] * x0.shape[0]
    rows = [float(abar[tb]) ** 0.5 * x0[b] + float(1 - abar[tb]) ** 0.5 * noise[b] for b, tb in enumerate(ts)]
    return torch.stack(rows)

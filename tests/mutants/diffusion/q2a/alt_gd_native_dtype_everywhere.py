"""All Gaussian-diffusion functions computed directly in the inputs' dtype (no float64 detour)."""
MODULE = "gaussian_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def alpha_bar(betas):
    ones = torch.ones(1, dtype=betas.dtype, device=betas.device)
    return torch.cat([ones, torch.cumprod(1 - betas, dim=0)])


def _per_example(values, t, like):
    if isinstance(t, torch.Tensor):
        return values[t].reshape((-1,) + (1,) * (like.dim() - 1))
    return values[t]


def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    abar_t = _per_example(alpha_bar(betas.to(x0.dtype)), t, x0)
    return torch.sqrt(abar_t) * x0 + torch.sqrt(1 - abar_t) * noise


def q_posterior_mean_variance(x_t, x0, t, betas):
    betas = betas.to(x_t.dtype)
    abar = alpha_bar(betas)
    beta_t = _per_example(betas, t - 1, x_t)
    abar_t = _per_example(abar, t, x_t)
    abar_prev = _per_example(abar, t - 1, x_t)
    mean = (torch.sqrt(abar_prev) * beta_t * x0 + torch.sqrt(1 - beta_t) * (1 - abar_prev) * x_t) / (1 - abar_t)
    variance = (1 - abar_prev) / (1 - abar_t) * beta_t
    return mean, variance

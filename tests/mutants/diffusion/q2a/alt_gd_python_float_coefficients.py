"""q_sample and the posterior with Python-float schedule values (.item() / .tolist()) and explicit reshapes."""
MODULE = "gaussian_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def _schedule_lists(betas):
    b = betas.detach().cpu().double().tolist()
    abar = [1.0]
    for beta in b:
        abar.append(abar[-1] * (1.0 - beta))
    return b, abar


def _column(values, like):
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape((-1,) + (1,) * (like.dim() - 1))


def q_sample(x0, t, betas, noise=None, generator=None):
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    noise = noise.to(device=x0.device, dtype=x0.dtype)
    _, abar = _schedule_lists(betas)
    ts = t.tolist() if isinstance(t, torch.Tensor) else [t] * x0.shape[0]
    signal = _column([abar[v] ** 0.5 for v in ts], x0)
    scale = _column([(1.0 - abar[v]) ** 0.5 for v in ts], x0)
    return signal * x0 + scale * noise


def q_posterior_mean_variance(x_t, x0, t, betas):
    b, abar = _schedule_lists(betas)
    ts = t.tolist() if isinstance(t, torch.Tensor) else [t] * x_t.shape[0]
    c0 = [abar[v - 1] ** 0.5 * b[v - 1] / (1 - abar[v]) for v in ts]
    ct = [(1 - b[v - 1]) ** 0.5 * (1 - abar[v - 1]) / (1 - abar[v]) for v in ts]
    var = [(1 - abar[v - 1]) / (1 - abar[v]) * b[v - 1] for v in ts]
    mean = _column(c0, x_t) * x0 + _column(ct, x_t) * x_t
    return mean, _column(var, x_t)

"""Posterior variance expanded to x_t's full shape; schedule gathered with torch.gather."""
MODULE = "gaussian_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def q_posterior_mean_variance(x_t, x0, t, betas):
    b = betas.double()
    abar = torch.cumprod(1 - b, 0)
    abar_prev = torch.cat([b.new_ones(1), abar[:-1]])
    idx = (t - 1) if isinstance(t, torch.Tensor) else torch.full((x_t.shape[0],), t - 1, dtype=torch.long)
    idx = idx.to(b.device)
    shape = (-1,) + (1,) * (x_t.dim() - 1)
    bt, at, ap = (v.gather(0, idx).reshape(shape) for v in (b, abar, abar_prev))
    mean = (ap.sqrt() * bt / (1 - at)) * x0.double() + ((1 - bt).sqrt() * (1 - ap) / (1 - at)) * x_t.double()
    var = (bt * (1 - ap) / (1 - at)).expand(x_t.shape)
    return mean.to(x_t.dtype), var.to(x_t.dtype)

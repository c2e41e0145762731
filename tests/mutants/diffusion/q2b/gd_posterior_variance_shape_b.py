"""q_posterior_mean_variance returns the variance of a (B,) t with shape (B,), not broadcastable to x_t."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "(B, 1, ..., 1)"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior = q_posterior_mean_variance


def q_posterior_mean_variance(x_t, x0, t, betas):
    mean, var = _reference_posterior(x_t, x0, t, betas)
    if isinstance(t, torch.Tensor):
        var = var.reshape(-1)
    return mean, var

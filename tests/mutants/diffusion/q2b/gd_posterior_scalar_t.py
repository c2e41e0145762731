"""q_posterior_mean_variance uses t[0] for every example of a per-example t."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "its own t[b]"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior = q_posterior_mean_variance


def q_posterior_mean_variance(x_t, x0, t, betas):
    if isinstance(t, torch.Tensor):
        t = int(t[0])
    return _reference_posterior(x_t, x0, t, betas)

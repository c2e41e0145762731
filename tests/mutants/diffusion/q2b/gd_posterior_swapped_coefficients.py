"""Posterior mean puts the x0 coefficient on x_t and vice versa."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "swapped"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior = q_posterior_mean_variance


def q_posterior_mean_variance(x_t, x0, t, betas):
    return _reference_posterior(x0, x_t, t, betas)

"""q_posterior_mean_variance returns float64 results for float32 inputs (schedule never cast back)."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "keep x_t's dtype"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior = q_posterior_mean_variance


def q_posterior_mean_variance(x_t, x0, t, betas):
    mean, var = _reference_posterior(x_t.double(), x0.double(), t, betas)
    return mean, var

"""q_posterior_mean_variance returns β_t as the variance instead of β̃_t (the seed's statement)."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "β̃_t"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior = q_posterior_mean_variance


def q_posterior_mean_variance(x_t, x0, t, betas):
    mean, _ = _reference_posterior(x_t, x0, t, betas)
    return mean, extract(betas.to(torch.float64), t - 1, x_t)

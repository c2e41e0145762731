"""Posterior mean via Ho et al. eq. 10: (x_t - β_t/(1-ᾱ_t)(x_t - sqrt(ᾱ_t) x0)) / sqrt(α_t), in x_t's dtype."""
MODULE = "gaussian_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def q_posterior_mean_variance(x_t, x0, t, betas):
    b = betas.to(x_t.dtype)
    abar = alpha_bar(b)
    beta_t = extract(b, t - 1, x_t)
    abar_t = extract(abar, t, x_t)
    abar_prev = extract(abar, t - 1, x_t)
    mean = (x_t - beta_t / (1 - abar_t) * (x_t - abar_t.sqrt() * x0)) / (1 - beta_t).sqrt()
    var = beta_t * (1 - abar_prev) / (1 - abar_t)
    return mean, var

"""Posterior mean with the seed's erratum: coefficient on x_t is sqrt(1-β_t)(1-ᾱ_t)/(1-ᾱ_t)."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "ᾱ_{t-1} in the numerator"

# ---- code below is appended to the reference module (later definitions win) ----
def q_posterior_mean_variance(x_t, x0, t, betas):
    b = betas.to(torch.float64)
    abar = alpha_bar(b)
    abar_prev, abar_t = abar[:-1], abar[1:]
    coef_x0 = abar_prev.sqrt() * b / (1.0 - abar_t)
    coef_xt = (1.0 - b).sqrt() * (1.0 - abar_t) / (1.0 - abar_t)
    var = (1.0 - abar_prev) / (1.0 - abar_t) * b
    mean = extract(coef_x0, t - 1, x_t) * x0 + extract(coef_xt, t - 1, x_t) * x_t
    return mean, extract(var, t - 1, x_t)

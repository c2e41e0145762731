"""Posterior from the precision form with the prior term 1/(1-ᾱ_t), sqrt(ᾱ_t) instead of ᾱ_{t-1}."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "ᾱ_{t-1}"

# ---- code below is appended to the reference module (later definitions win) ----
def q_posterior_mean_variance(x_t, x0, t, betas):
    b = betas.to(torch.float64)
    abar_t = alpha_bar(b)[1:]
    precision = (1 - b) / b + 1 / (1 - abar_t)
    var = 1 / precision
    coef_xt = (1 - b).sqrt() / b * var
    coef_x0 = abar_t.sqrt() / (1 - abar_t) * var
    mean = extract(coef_x0, t - 1, x_t) * x0 + extract(coef_xt, t - 1, x_t) * x_t
    return mean, extract(var, t - 1, x_t)

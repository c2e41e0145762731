"""Posterior from the precision form 1/β̃ = α_t/β_t + 1/(1-ᾱ_{t-1}): right for t >= 2, nan at t = 1."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "At t = 1"

# ---- code below is appended to the reference module (later definitions win) ----
def q_posterior_mean_variance(x_t, x0, t, betas):
    b = betas.to(torch.float64)
    abar_prev = alpha_bar(b)[:-1]
    precision = (1 - b) / b + 1 / (1 - abar_prev)
    var = 1 / precision
    coef_xt = (1 - b).sqrt() / b * var
    coef_x0 = abar_prev.sqrt() / (1 - abar_prev) * var
    mean = extract(coef_x0, t - 1, x_t) * x0 + extract(coef_xt, t - 1, x_t) * x_t
    return mean, extract(var, t - 1, x_t)

"""posterior_prob_plus uses the x0 = +1 prior (1 + s)/2 for every pixel, whatever the sign of x0."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "0 if x0 = -1"

# ---- code below is appended to the reference module (later definitions win) ----
def posterior_prob_plus(y_t, x0, t, delta):
    s = broadcast_per_example(survival_prob(t - 1, delta), y_t)
    rho = (1 + s) / 2
    plus = (1 - delta) * rho / ((1 - rho) * delta + (1 - delta) * rho)
    minus = delta * rho / (rho * delta + (1 - delta) * (1 - rho))
    return torch.where(y_t > 0, plus, minus).to(y_t.dtype)

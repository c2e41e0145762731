"""posterior_prob_plus uses survival_prob(t) in the prior of Y_{t-1} instead of survival_prob(t - 1)."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "(1 - 2*delta)^(t - 1)"

# ---- code below is appended to the reference module (later definitions win) ----
def posterior_prob_plus(y_t, x0, t, delta):
    s = broadcast_per_example(survival_prob(t, delta), y_t)
    prior_plus = (1 + x0 * s) / 2
    lik_plus = (1 + y_t * (1 - 2 * delta)) / 2
    joint_plus = prior_plus * lik_plus
    return joint_plus / (joint_plus + (1 - prior_plus) * (1 - lik_plus))

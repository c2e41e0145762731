"""survival_prob counts steps from 1: (1-2δ)^(t-1), so it is not 1 at t = 0."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "t counted from 1"

# ---- code below is appended to the reference module (later definitions win) ----
def survival_prob(t, delta):
    return (1 - 2 * delta) ** (t - 1)

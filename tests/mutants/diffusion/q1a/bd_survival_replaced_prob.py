"""survival_prob returns the probability that the pixel HAS been replaced, 1 - (1-2δ)^t."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "WAS replaced"

# ---- code below is appended to the reference module (later definitions win) ----
def survival_prob(t, delta):
    return 1 - (1 - 2 * delta) ** t

"""survival_prob uses (1-δ)^t: the flip probability instead of the replacement probability 2δ."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "replacement probability is 2*delta"

# ---- code below is appended to the reference module (later definitions win) ----
def survival_prob(t, delta):
    return (1 - delta) ** t

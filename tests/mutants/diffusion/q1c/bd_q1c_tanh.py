"""Q1C_ANSWER picks tanh, whose output can be negative."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "negative"

# ---- code below is appended to the reference module (later definitions win) ----
Q1C_ANSWER = "Tanh"

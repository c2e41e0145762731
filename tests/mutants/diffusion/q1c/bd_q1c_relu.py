"""Q1C_ANSWER picks ReLU, whose output can exceed 1."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "exceed 1"

# ---- code below is appended to the reference module (later definitions win) ----
Q1C_ANSWER = "relu"

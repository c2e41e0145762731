"""survival_prob returns a 0-dim float32 tensor even for an int t (torch.tensor(1 - 2δ) ** t)."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def survival_prob(t, delta):
    return torch.tensor(1 - 2 * delta) ** t

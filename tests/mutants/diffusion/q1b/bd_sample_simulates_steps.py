"""sample_forward simulates all t steps with forward_step instead of sampling Y_t in one shot."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "in one shot"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    steps = broadcast_per_example(t, x0)                  # () or (B, 1, ..., 1)
    y = x0
    for s in range(int(steps.max()) if steps.numel() else 0):
        y = torch.where(steps > s, forward_step(y, delta, generator), y)
    return y

"""diffusion_loss averages the per-pixel KL over pixels instead of summing it."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "mean over pixels"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)
    kl = (torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)
          - p * F.logsigmoid(logits) - (1 - p) * F.logsigmoid(-logits))
    return kl.mean()

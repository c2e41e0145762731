"""diffusion_loss sums over the batch instead of averaging over it."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "average over the batch"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)
    kl = (torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)
          - p * F.logsigmoid(logits) - (1 - p) * F.logsigmoid(-logits))
    return kl.sum()

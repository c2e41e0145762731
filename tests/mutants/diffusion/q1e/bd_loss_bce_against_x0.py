"""diffusion_loss is binary cross-entropy against x0 for every t (ignores the smoothed target)."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "KL(posterior_prob_plus(y_t, x0, t, delta)"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    target = (1 + x0) / 2
    bce = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")
    return bce.reshape(bce.shape[0], -1).sum(dim=1).mean()

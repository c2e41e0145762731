"""diffusion_loss as BCE-with-logits against the soft target minus the target's entropy, looped over the batch."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    total = logits.new_zeros(())
    for b in range(logits.shape[0]):
        tb = int(t[b]) if isinstance(t, torch.Tensor) else t
        p = posterior_prob_plus(y_t[b:b + 1], x0[b:b + 1], tb, delta).to(logits.dtype)
        cross_entropy = F.binary_cross_entropy_with_logits(logits[b:b + 1], p, reduction="sum")
        entropy = -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum()
        total = total + cross_entropy - entropy
    return total / logits.shape[0]

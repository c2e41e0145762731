"""early_exit_loss as a dot product of a weight vector with the stacked per-exit losses."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def early_exit_loss(exit_logits, targets, weights=None):
    losses = torch.stack([F.cross_entropy(z, targets) for z in exit_logits])      # (K,)
    if weights is None:
        return losses.sum()
    w = torch.as_tensor(weights, dtype=losses.dtype, device=losses.device)
    return (w * losses).sum()

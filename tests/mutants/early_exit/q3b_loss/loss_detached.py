"""early_exit_loss converts each cross-entropy to a Python float: the value is right, but no
gradient reaches the logits."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "no gradient reaches the logits"

# ---- code below is appended to the reference module (later definitions win) ----
def early_exit_loss(exit_logits, targets, weights=None):
    weights = [1.0] * len(exit_logits) if weights is None else weights
    return torch.tensor(sum(float(w) * F.cross_entropy(z, targets).item()
                            for w, z in zip(weights, exit_logits)))

"""early_exit_loss trains only the final head (the intermediate exits get no loss)."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "every exit must be trained"

# ---- code below is appended to the reference module (later definitions win) ----
def early_exit_loss(exit_logits, targets, weights=None):
    w = 1.0 if weights is None else weights[-1]
    return w * F.cross_entropy(exit_logits[-1], targets)

"""early_exit_loss ignores the weights argument."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "weights ignored"

# ---- code below is appended to the reference module (later definitions win) ----
def early_exit_loss(exit_logits, targets, weights=None):
    return sum(F.cross_entropy(z, targets) for z in exit_logits)

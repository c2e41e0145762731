"""min_threshold_beating assumes sorted thresholds and returns the first beating one listed."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "any order"

# ---- code below is appended to the reference module (later definitions win) ----
def min_threshold_beating(thresholds, accuracies, target_accuracy):
    for t, a in zip(thresholds, accuracies):
        if float(a) > float(target_accuracy):
            return float(t)
    return None

"""min_threshold_beating returns the largest beating threshold instead of the smallest."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "did you return the largest"

# ---- code below is appended to the reference module (later definitions win) ----
def min_threshold_beating(thresholds, accuracies, target_accuracy):
    ok = [float(t) for t, a in zip(thresholds, accuracies) if float(a) > float(target_accuracy)]
    return max(ok) if ok else None

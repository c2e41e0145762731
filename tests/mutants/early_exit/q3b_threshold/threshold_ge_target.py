"""min_threshold_beating counts an accuracy equal to the target as beating it (>= instead of >)."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "use >, not >="

# ---- code below is appended to the reference module (later definitions win) ----
def min_threshold_beating(thresholds, accuracies, target_accuracy):
    ok = [float(t) for t, a in zip(thresholds, accuracies) if float(a) >= float(target_accuracy)]
    return min(ok) if ok else None

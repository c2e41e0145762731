"""min_threshold_beating sorts the (threshold, accuracy) pairs and returns the first that beats
the target."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def min_threshold_beating(thresholds, accuracies, target_accuracy):
    for t, a in sorted(zip(map(float, thresholds), map(float, accuracies))):
        if a > target_accuracy:
            return t
    return None

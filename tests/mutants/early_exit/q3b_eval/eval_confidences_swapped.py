"""evaluate_early_exit swaps confidence_early and confidence_full."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "confidence_early"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_evaluate = evaluate_early_exit


def evaluate_early_exit(model, loader, threshold):
    r = _reference_evaluate(model, loader, threshold)
    r["confidence_early"], r["confidence_full"] = r["confidence_full"], r["confidence_early"]
    return r

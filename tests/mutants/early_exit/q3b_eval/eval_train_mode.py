"""evaluate_early_exit runs predict in whatever mode the model is in (BatchNorm uses batch
statistics when the model is still in training mode)."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "eval mode"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_evaluate = evaluate_early_exit


def evaluate_early_exit(model, loader, threshold):
    if model.training:
        saved = model.eval
        model.eval = lambda: model           # the reference calls model.eval(); make it a no-op
        try:
            return _reference_evaluate(model, loader, threshold)
        finally:
            del model.eval
    return _reference_evaluate(model, loader, threshold)

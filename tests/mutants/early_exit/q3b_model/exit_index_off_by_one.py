"""predict numbers the exits from 1 instead of 0."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "count exits from 0"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_predict = EarlyExitResNet.predict


def _one_based_predict(self, x, threshold):
    pred, exit_index, conf = _reference_predict(self, x, threshold)
    return pred, exit_index + 1, conf


EarlyExitResNet.predict = _one_based_predict

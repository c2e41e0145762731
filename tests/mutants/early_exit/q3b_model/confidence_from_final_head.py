"""predict decides exits correctly but reports the final head's max probability as every
example's confidence (and so runs the whole network for everyone)."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "final head"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_predict = EarlyExitResNet.predict


@torch.no_grad()
def _final_conf_predict(self, x, threshold):
    pred, exit_index, _ = _reference_predict(self, x, threshold)
    conf = torch.softmax(self.forward(x)[-1], dim=-1).max(dim=-1).values
    return pred, exit_index, conf


EarlyExitResNet.predict = _final_conf_predict

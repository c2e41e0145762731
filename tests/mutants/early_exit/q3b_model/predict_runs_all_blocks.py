"""predict computes every stage and head for every example, then picks each example's exit: the
outputs (and the MAC ratio reported by evaluate_early_exit) are right, but nothing is saved."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "still-running examples"

# ---- code below is appended to the reference module (later definitions win) ----
@torch.no_grad()
def _all_blocks_predict(self, x, threshold):
    probs = torch.stack([torch.softmax(z, dim=-1) for z in self.forward(x)])   # (K, B, C)
    conf, pred = probs.max(dim=-1)                                             # (K, B)
    leaves = conf >= threshold
    leaves[-1] = True
    exit_index = leaves.long().argmax(dim=0)
    cols = torch.arange(x.shape[0], device=x.device)
    return pred[exit_index, cols], exit_index, conf[exit_index, cols]


EarlyExitResNet.predict = _all_blocks_predict

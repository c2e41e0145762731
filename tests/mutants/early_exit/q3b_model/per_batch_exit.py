"""predict lets the whole batch leave at a head once the batch's mean confidence reaches the
threshold: the exit is decided per batch, not per example."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "per batch, not per example"

# ---- code below is appended to the reference module (later definitions win) ----
@torch.no_grad()
def _per_batch_predict(self, x, threshold):
    h = self.stem(x)
    last = self.num_exits - 1
    for i in range(self.num_exits):
        h = self.stages[i](h)
        conf, pred = torch.softmax(self.heads[i](h), dim=-1).max(dim=-1)
        if i == last or float(conf.mean()) >= threshold:
            return pred, torch.full_like(pred, i), conf


EarlyExitResNet.predict = _per_batch_predict

"""predict compares the maximum logit (not the maximum softmax probability) with the threshold
and reports it as the confidence."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "did you return a logit"

# ---- code below is appended to the reference module (later definitions win) ----
@torch.no_grad()
def _max_logit_predict(self, x, threshold):
    B = x.shape[0]
    predictions = torch.zeros(B, dtype=torch.long, device=x.device)
    exit_index = torch.zeros(B, dtype=torch.long, device=x.device)
    confidence = torch.zeros(B, dtype=x.dtype, device=x.device)
    active = torch.arange(B, device=x.device)
    h = self.stem(x)
    for i in range(self.num_exits):
        h = self.stages[i](h)
        conf, pred = self.heads[i](h).max(dim=-1)
        leave = torch.ones_like(conf, dtype=torch.bool) if i == self.num_exits - 1 else conf >= threshold
        done = active[leave]
        predictions[done], exit_index[done], confidence[done] = pred[leave], i, conf[leave]
        active, h = active[~leave], h[~leave]
        if active.numel() == 0:
            break
    return predictions, exit_index, confidence


EarlyExitResNet.predict = _max_logit_predict

"""predict written with a boolean "still running" mask over the batch instead of an index list."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
@torch.no_grad()
def _mask_predict(self, x, threshold):
    B = x.shape[0]
    running = torch.ones(B, dtype=torch.bool, device=x.device)
    pred_out = torch.empty(B, dtype=torch.long, device=x.device)
    exit_out = torch.empty(B, dtype=torch.long, device=x.device)
    conf_out = torch.empty(B, dtype=x.dtype, device=x.device)
    h = self.stem(x)
    for i, (stage, head) in enumerate(zip(self.stages, self.heads)):
        h = stage(h)
        conf, pred = head(h).softmax(-1).max(-1)
        final = i == len(self.stages) - 1
        stop = conf >= threshold if not final else torch.ones_like(conf, dtype=torch.bool)
        where = running.clone()
        where[running] = stop                        # batch positions that stop here
        pred_out[where], exit_out[where], conf_out[where] = pred[stop], i, conf[stop].to(x.dtype)
        running &= ~where
        h = h[~stop]
        if not running.any():
            break
    return pred_out, exit_out, conf_out


EarlyExitResNet.predict = _mask_predict

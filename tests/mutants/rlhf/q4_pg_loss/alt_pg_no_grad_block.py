"""policy_gradient_loss computing the advantage under torch.no_grad and dividing by numel (correct)."""
MODULE = "rlhf"
KIND = "alternative"


# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    with torch.no_grad():
        adv = torch.as_tensor(rewards, dtype=seq_log_probs.dtype) - (0.0 if baseline is None else torch.as_tensor(baseline, dtype=seq_log_probs.dtype))
    return -(adv * seq_log_probs).sum() / seq_log_probs.numel()

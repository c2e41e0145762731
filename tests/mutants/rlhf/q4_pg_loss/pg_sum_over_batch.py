"""policy_gradient_loss sums over the batch instead of averaging."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "mean over the batch"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    adv = torch.as_tensor(rewards).detach()
    if baseline is not None:
        adv = adv - torch.as_tensor(baseline).detach()
    return -(adv * seq_log_probs).sum()

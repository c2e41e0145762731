"""policy_gradient_loss returns +mean((r - b) log p): gradient ascent on the loss, i.e. descent on the reward."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "sign is flipped"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    adv = torch.as_tensor(rewards, dtype=seq_log_probs.dtype).detach()
    if baseline is not None:
        adv = adv - torch.as_tensor(baseline, dtype=seq_log_probs.dtype).detach()
    return (adv * seq_log_probs).mean()

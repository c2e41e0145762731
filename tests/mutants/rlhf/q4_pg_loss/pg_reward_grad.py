"""policy_gradient_loss lets the gradient flow into the rewards (no detach)."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "Detach rewards"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    adv = rewards if baseline is None else rewards - torch.as_tensor(baseline).detach()
    return -(adv * seq_log_probs).mean()

"""policy_gradient_loss lets the gradient flow into the baseline (no detach)."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "Detach baseline"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    adv = torch.as_tensor(rewards).detach()
    if baseline is not None:
        adv = adv - baseline
    return -(adv * seq_log_probs).mean()

"""policy_gradient_loss ignores the baseline argument."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "baseline is being ignored"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    return -(torch.as_tensor(rewards).detach() * seq_log_probs).mean()

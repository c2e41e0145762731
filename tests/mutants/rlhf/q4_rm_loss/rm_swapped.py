"""reward_model_loss has chosen and rejected swapped."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "chosen and rejected swapped"

# ---- code below is appended to the reference module (later definitions win) ----
import torch.nn.functional as F


def reward_model_loss(rewards_chosen, rewards_rejected):
    return -F.logsigmoid(rewards_rejected - rewards_chosen).mean()

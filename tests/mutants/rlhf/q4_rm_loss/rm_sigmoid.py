"""reward_model_loss uses -sigmoid(d) instead of -log sigmoid(d)."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "without the log"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def reward_model_loss(rewards_chosen, rewards_rejected):
    return -torch.sigmoid(rewards_chosen - rewards_rejected).mean()

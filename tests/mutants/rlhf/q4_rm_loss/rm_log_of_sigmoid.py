"""reward_model_loss computes log(sigmoid(d)), which is -inf for large negative margins."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "F.logsigmoid"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def reward_model_loss(rewards_chosen, rewards_rejected):
    return -torch.log(torch.sigmoid(rewards_chosen - rewards_rejected)).mean()

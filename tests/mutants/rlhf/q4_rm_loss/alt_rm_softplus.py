"""reward_model_loss as mean softplus(rejected - chosen) (correct)."""
MODULE = "rlhf"
KIND = "alternative"


# ---- code below is appended to the reference module (later definitions win) ----
import torch.nn.functional as F


def reward_model_loss(rewards_chosen, rewards_rejected):
    return F.softplus(rewards_rejected - rewards_chosen).mean()

"""sequence_log_probs counts the -100 positions (scored as token 0) instead of masking them."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "-100"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return lp.sum(-1)

"""sequence_log_probs takes log(softmax(...)), which underflows to -inf for large logits."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "log_softmax directly"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    mask = labels != -100
    lp = torch.log(torch.softmax(logits, dim=-1)).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, lp, torch.zeros_like(lp)).sum(-1)

"""sequence_log_probs averages over the counted tokens instead of summing them."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "you averaged over tokens"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    mask = labels != -100
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1) / mask.sum(-1).clamp_min(1)

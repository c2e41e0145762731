"""sequence_log_probs normalises with log_softmax over the sequence dimension instead of the vocabulary."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "vocabulary (last) dimension"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    mask = labels != -100
    lp = torch.log_softmax(logits, dim=1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1)

"""sequence_log_probs shifts the logits by one position (as for a decoder-only LM) although they are already aligned."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "do not shift"

# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    logits, labels = logits[:, :-1], labels[:, 1:]
    mask = labels != -100
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1)

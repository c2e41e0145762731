"""sequence_log_probs through F.cross_entropy with ignore_index (correct)."""
MODULE = "rlhf"
KIND = "alternative"


# ---- code below is appended to the reference module (later definitions win) ----
import torch.nn.functional as F


def sequence_log_probs(logits, labels):
    nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")  # (B, L)
    return -nll.sum(-1)

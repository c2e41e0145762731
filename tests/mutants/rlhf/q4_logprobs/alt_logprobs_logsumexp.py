"""sequence_log_probs as picked logit minus logsumexp, masked with torch.where (correct)."""
MODULE = "rlhf"
KIND = "alternative"


# ---- code below is appended to the reference module (later definitions win) ----
import torch


def sequence_log_probs(logits, labels):
    mask = labels != -100
    picked = logits.gather(-1, torch.where(mask, labels, 0).unsqueeze(-1)).squeeze(-1)
    lp = picked - torch.logsumexp(logits, dim=-1)
    return torch.where(mask, lp, torch.zeros_like(lp)).sum(dim=1)

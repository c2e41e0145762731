"""kl_penalized_rewards under torch.no_grad (correct)."""
MODULE = "rlhf"
KIND = "alternative"


# ---- code below is appended to the reference module (later definitions win) ----
import torch


@torch.no_grad()
def kl_penalized_rewards(scores, seq_log_probs, ref_seq_log_probs, kl_coef):
    return scores - kl_coef * seq_log_probs + kl_coef * ref_seq_log_probs

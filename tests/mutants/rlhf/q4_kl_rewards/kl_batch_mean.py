"""kl_penalized_rewards subtracts the batch-mean KL from every sequence instead of each sequence's own log-ratio."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "for each sequence"

# ---- code below is appended to the reference module (later definitions win) ----
def kl_penalized_rewards(scores, seq_log_probs, ref_seq_log_probs, kl_coef):
    return (scores - kl_coef * (seq_log_probs - ref_seq_log_probs).mean()).detach()

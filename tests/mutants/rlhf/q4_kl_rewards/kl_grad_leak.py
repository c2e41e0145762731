"""kl_penalized_rewards returns a tensor that still carries gradient (no detach)."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "detach the result"

# ---- code below is appended to the reference module (later definitions win) ----
def kl_penalized_rewards(scores, seq_log_probs, ref_seq_log_probs, kl_coef):
    return scores - kl_coef * (seq_log_probs - ref_seq_log_probs)

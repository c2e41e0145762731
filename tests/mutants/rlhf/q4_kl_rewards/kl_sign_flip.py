"""kl_penalized_rewards adds the KL term: it rewards moving away from the SFT policy."""
MODULE = "rlhf"
KIND = "mutant"
HINT = "wrong sign"

# ---- code below is appended to the reference module (later definitions win) ----
def kl_penalized_rewards(scores, seq_log_probs, ref_seq_log_probs, kl_coef):
    return (scores + kl_coef * (seq_log_probs - ref_seq_log_probs)).detach()

"""posterior_prob_plus uses the largest entry of a per-example t for the whole batch."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "its own t[b]"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_posterior_prob_plus = posterior_prob_plus


def posterior_prob_plus(y_t, x0, t, delta):
    if isinstance(t, torch.Tensor):
        t = int(t.max())
    return _reference_posterior_prob_plus(y_t, x0, t, delta)

"""diffusion_loss uses KL(model || target) instead of KL(target || model)."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "the arguments are reversed"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype).clamp(1e-6, 1 - 1e-6)
    kl = bernoulli_kl(torch.sigmoid(logits), p)
    return kl.reshape(kl.shape[0], -1).sum(dim=1).mean()

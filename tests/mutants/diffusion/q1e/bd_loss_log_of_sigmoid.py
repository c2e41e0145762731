"""diffusion_loss takes bernoulli_kl(p, sigmoid(logits)): overflows for confident logits."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "F.logsigmoid"

# ---- code below is appended to the reference module (later definitions win) ----
def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)
    kl = bernoulli_kl(p, torch.sigmoid(logits))
    return kl.reshape(kl.shape[0], -1).sum(dim=1).mean()

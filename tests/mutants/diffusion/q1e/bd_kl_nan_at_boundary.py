"""bernoulli_kl writes p log(p/q) + (1-p) log((1-p)/(1-q)) literally, giving nan at p = 0 or 1."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "0 * log 0 = 0"

# ---- code below is appended to the reference module (later definitions win) ----
def bernoulli_kl(p, q):
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)
    kl = bernoulli_kl(p, torch.sigmoid(logits))
    return kl.reshape(kl.shape[0], -1).sum(dim=1).mean()

"""bernoulli_kl masks 0 log 0 with torch.where: right values, but nan gradients where p is 0 or 1."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "torch.xlogy"

# ---- code below is appended to the reference module (later definitions win) ----
def bernoulli_kl(p, q):
    zero = torch.zeros_like(p * q)
    plus = torch.where(p > 0, p * torch.log(p / q), zero)
    minus = torch.where(p < 1, (1 - p) * torch.log((1 - p) / (1 - q)), zero)
    return plus + minus


def diffusion_loss(logits, y_t, x0, t, delta):
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)
    q = torch.sigmoid(logits).clamp(1e-12, 1 - 1e-7)
    kl = bernoulli_kl(p, q)
    return kl.reshape(kl.shape[0], -1).sum(dim=1).mean()

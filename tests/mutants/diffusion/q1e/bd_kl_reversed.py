"""bernoulli_kl computes KL(Bern(q) || Bern(p)) (arguments reversed)."""
MODULE = "binary_diffusion"
KIND = "mutant"
HINT = "KL(Bern(q) || Bern(p))"

# ---- code below is appended to the reference module (later definitions win) ----
def bernoulli_kl(p, q):
    return (torch.xlogy(q, q) - torch.xlogy(q, p)
            + torch.xlogy(1 - q, 1 - q) - torch.xlogy(1 - q, 1 - p))

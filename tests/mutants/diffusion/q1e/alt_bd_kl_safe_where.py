"""bernoulli_kl with the double-where trick (safe logs), loss via log-sigmoid on the model side."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def bernoulli_kl(p, q):
    p, q = torch.broadcast_tensors(p, q)
    safe_p = torch.where(p > 0, p, torch.ones_like(p))
    safe_1mp = torch.where(p < 1, 1 - p, torch.ones_like(p))
    plus = torch.where(p > 0, p * (torch.log(safe_p) - torch.log(q)), torch.zeros_like(p))
    minus = torch.where(p < 1, (1 - p) * (torch.log(safe_1mp) - torch.log1p(-q)), torch.zeros_like(p))
    return plus + minus

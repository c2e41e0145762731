"""sample_forward with torch.bernoulli for both coins (keep-coin and fair coin)."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def sample_forward(x0, t, delta, generator=None):
    keep = survival_prob(t, delta)
    if isinstance(keep, torch.Tensor):
        keep = keep.to(device=x0.device, dtype=x0.dtype).reshape((-1,) + (1,) * (x0.dim() - 1))
    keep_prob = torch.ones_like(x0) * keep                     # (B, ...)
    kept = torch.bernoulli(keep_prob, generator=generator).bool()
    fair = 2 * torch.bernoulli(torch.full_like(x0, 0.5), generator=generator) - 1
    return torch.where(kept, x0, fair)

"""alpha_bar multiplies the betas instead of (1 - β_i)."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "multiplies (1 - β_i)"

# ---- code below is appended to the reference module (later definitions win) ----
def alpha_bar(betas):
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    return torch.cat([one, torch.cumprod(betas, dim=0)])

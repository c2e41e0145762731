"""alpha_bar accumulates in float32 and casts back, losing float64 precision."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "float32 precision"

# ---- code below is appended to the reference module (later definitions win) ----
def alpha_bar(betas):
    alphas = 1.0 - betas.float()
    one = torch.ones(1, dtype=torch.float32, device=betas.device)
    return torch.cat([one, torch.cumprod(alphas, dim=0)]).to(betas.dtype)

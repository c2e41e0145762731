"""alpha_bar returns the plain cumulative product (length T) without the leading ᾱ_0 = 1."""
MODULE = "gaussian_diffusion"
KIND = "mutant"
HINT = "leading 1"

# ---- code below is appended to the reference module (later definitions win) ----
def alpha_bar(betas):
    return torch.cumprod(1 - betas.to(torch.float64), dim=0).to(betas.dtype)

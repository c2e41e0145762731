"""survival_prob as exp(t * log(1 - 2δ)), with a tensor path for LongTensor t."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
import math as _math


def survival_prob(t, delta):
    if isinstance(t, torch.Tensor):
        return torch.exp(t.to(torch.float64) * _math.log1p(-2 * delta))
    return _math.exp(t * _math.log1p(-2 * delta))

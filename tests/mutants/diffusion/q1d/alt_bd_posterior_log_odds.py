"""posterior_prob_plus as a sigmoid of prior log-odds plus likelihood log-odds."""
MODULE = "binary_diffusion"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
import math as _math


def posterior_prob_plus(y_t, x0, t, delta):
    s = survival_prob(t - 1, delta)
    s = broadcast_per_example(s, y_t) if isinstance(s, torch.Tensor) else torch.tensor(s, dtype=torch.float64)
    s = s.to(device=y_t.device, dtype=torch.float64)
    x = x0.to(torch.float64)
    # prior log-odds log((1 + x s) / (1 - x s)); infinite at t = 1 where s = 1
    prior = torch.log1p(x * s) - torch.log1p(-x * s)
    lik = y_t.to(torch.float64) * _math.log((1 - delta) / delta)
    return torch.sigmoid(prior + lik).to(y_t.dtype)

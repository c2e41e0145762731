"""Gaussian diffusion: closed-form forward marginals and the forward-process posterior (HW12 Q2).

Time-index convention (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): ``betas`` is a
1-D tensor of length T with ``betas[t - 1] = β_t`` for t = 1..T, and the forward process is
q(x_t | x_{t-1}) = N(sqrt(1 - β_t) x_{t-1}, β_t I). Schedules derived from it, such as
``alpha_bar(betas)``, have length T + 1 and are indexed by t directly: entry 0 belongs to the clean
data x_0.

Shapes: data tensors are (B, ...) with the batch first. Wherever ``t`` appears it is either a
Python int (the same step for the whole batch) or a LongTensor of shape (B,) giving example ``b``
(along dim 0) its own step ``t[b]``. Schedule quantities are computed in float64 and cast to the
data's floating dtype at the end; results keep the device and floating dtype of the inputs. All
randomness comes from the ``noise`` or ``generator`` arguments.
"""
from __future__ import annotations

import torch

# given helpers (hw12/diffusion_helpers.py): normal draws from a generator, schedule look-up by t
from hw12.diffusion_helpers import extract, normal_like

__all__ = ["alpha_bar", "q_sample", "q_posterior_mean_variance"]


# ----------------------------------------------------------------------------------------------
# Q2(a)
# ----------------------------------------------------------------------------------------------
def alpha_bar(betas: torch.Tensor) -> torch.Tensor:
    """Cumulative signal coefficients ᾱ_t = Π_{i=1}^{t} (1 - β_i) for t = 0, 1, ..., T.

    Args:
        betas: (T,) floating tensor, betas[t - 1] = β_t in (0, 1).
    Returns:
        (T + 1,) tensor with the dtype and device of ``betas``; entry 0 is 1 (the empty product)
        and entry t is ᾱ_t. The product is accumulated in float64, then cast to betas' dtype.
    """
    # BEGIN SOLUTION
    # HINT: torch.cumprod of (1 - β) accumulated in float64, with a 1 in front for t = 0 (torch.cat);
    # HINT: cast the result back to betas.dtype and keep betas.device.
    alphas = 1.0 - betas.to(torch.float64)                        # (T,), alphas[t-1] = α_t
    one = torch.ones(1, dtype=torch.float64, device=betas.device)
    return torch.cat([one, torch.cumprod(alphas, dim=0)]).to(betas.dtype)  # (T+1,)
    # END SOLUTION


def q_sample(x0: torch.Tensor, t, betas: torch.Tensor, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) in one shot.

    Args:
        x0: (B, ...) floating tensor, the clean data.
        t: int in 1..T, or LongTensor of shape (B,) with entries in 1..T.
        betas: (T,) schedule, betas[t - 1] = β_t.
        noise: optional (B, ...) tensor ε with x0's shape; if given the result is a deterministic
            function of it. If None, ε ~ N(0, I) is drawn with ``generator``.
        generator: ``torch.Generator`` used only when ``noise`` is None.
    Returns:
        x_t: (B, ...) tensor with x0's dtype and device.
    """
    # BEGIN SOLUTION
    # HINT: reparameterise the closed form of q(x_t | x_0) from 2(a) (Ho et al. 2020, eq. 4):
    # HINT: x_t is the signal coefficient times x0 plus the noise coefficient times ε.
    # HINT: if noise is None draw it with normal_like(x0, generator).
    # HINT: extract(alpha_bar(...), t, x0) gives ᾱ_t shaped (B, 1, ..., 1) for a tensor t.
    if noise is None:
        noise = normal_like(x0, generator)
    abar = alpha_bar(betas.to(torch.float64))            # (T+1,) float64
    signal = extract(abar.sqrt(), t, x0)                  # sqrt(ᾱ_t), () or (B, 1, ..., 1)
    noise_scale = extract((1.0 - abar).sqrt(), t, x0)     # sqrt(1 - ᾱ_t)
    return signal * x0 + noise_scale * noise.to(x0.dtype)
    # END SOLUTION


# ----------------------------------------------------------------------------------------------
# Q2(b)
# ----------------------------------------------------------------------------------------------
def q_posterior_mean_variance(x_t: torch.Tensor, x0: torch.Tensor, t, betas: torch.Tensor):
    """Mean and variance of the Gaussian q(x_{t-1} | x_t, x_0).

    Args:
        x_t: (B, ...) floating tensor, the noisy data at step t.
        x0: (B, ...) floating tensor with x_t's shape, the clean data.
        t: int in 1..T, or LongTensor of shape (B,) with entries in 1..T.
        betas: (T,) schedule, betas[t - 1] = β_t.
    Returns:
        ``(mean, variance)``: mean is (B, ...) like x_t; variance is the per-coordinate variance,
        a tensor broadcastable to x_t's shape without changing it (0-dim for an int t,
        (B, 1, ..., 1) for a tensor t). Both have x_t's dtype and device.
    """
    # BEGIN SOLUTION
    # HINT: use your closed form from 2(b) (Ho et al. 2020, eqs. 6-7). Mind the indices: β_t is
    # HINT: betas[t - 1], ᾱ_t is alpha_bar(betas)[t] and ᾱ_{t-1} is alpha_bar(betas)[t - 1].
    # HINT: build float64 tables over t = 1..T, then extract(table, t - 1, x_t) for each coefficient.
    # HINT: check t = 1: the posterior must be the point mass at x0 (mean x0, variance 0).
    b = betas.to(torch.float64)              # (T,), b[t-1] = β_t
    abar = alpha_bar(b)                      # (T+1,), abar[t] = ᾱ_t
    abar_prev, abar_t = abar[:-1], abar[1:]  # (T,) each, indexed by t - 1
    coef_x0 = abar_prev.sqrt() * b / (1.0 - abar_t)
    coef_xt = (1.0 - b).sqrt() * (1.0 - abar_prev) / (1.0 - abar_t)
    var = (1.0 - abar_prev) / (1.0 - abar_t) * b     # β̃_t
    mean = extract(coef_x0, t - 1, x_t) * x0.to(x_t.dtype) + extract(coef_xt, t - 1, x_t) * x_t
    return mean, extract(var, t - 1, x_t)
    # END SOLUTION

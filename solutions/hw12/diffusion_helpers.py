"""Tensor helpers of the diffusion modules (HW12 Q1, Q2): random numbers drawn from an explicit
generator, and per-example values shaped to broadcast along the batch dimension. Given code;
``binary_diffusion.py`` and ``gaussian_diffusion.py`` import them for you.

Shapes: data tensors are (B, ...) with the batch first; a per-example value has shape (B,) and is
reshaped to (B, 1, ..., 1).
"""
from __future__ import annotations

import torch

__all__ = ["uniform_like", "normal_like", "broadcast_per_example", "extract"]


def _draw(sample, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``sample(shape, generator=, device=, dtype=)`` (torch.rand or torch.randn) drawn on the
    generator's device, with like's shape and floating dtype, moved to like's device."""
    device = generator.device if generator is not None else like.device
    return sample(like.shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def uniform_like(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Independent Uniform[0, 1) numbers, one per entry of ``like``.

    like: tensor of any shape; the result has its shape, floating dtype and device.
    generator: ``torch.Generator`` to draw from (on any device), or None for torch's default one.
    """
    return _draw(torch.rand, like, generator)


def broadcast_per_example(values, like: torch.Tensor) -> torch.Tensor:
    """Shape per-example values so that they broadcast against ``like`` along dim 0.

    values: a Python number, a 0-dim tensor, or a tensor of shape (B,) with B = like.shape[0].
    like: tensor of shape (B, ...).
    Returns a tensor on like's device: 0-dim for a number or 0-dim tensor, otherwise of shape
    (B, 1, ..., 1) with like.dim() dimensions. Floating values are cast to like's dtype.
    """
    if isinstance(values, torch.Tensor):
        v = values.to(like.device)
    elif isinstance(values, float):
        v = torch.tensor(values, dtype=like.dtype, device=like.device)
    else:
        v = torch.as_tensor(values, device=like.device)
    if v.is_floating_point():
        v = v.to(like.dtype)
    if v.dim() == 0:
        return v
    if v.dim() != 1 or v.shape[0] != like.shape[0]:
        raise ValueError(f"expected per-example values of shape ({like.shape[0]},), got {tuple(v.shape)}")
    return v.reshape((-1,) + (1,) * (like.dim() - 1))  # (B,) -> (B, 1, ..., 1)


def normal_like(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Independent N(0, 1) numbers, one per entry of ``like``; arguments as for uniform_like."""
    return _draw(torch.randn, like, generator)


def extract(values: torch.Tensor, t, like: torch.Tensor) -> torch.Tensor:
    """Look up ``values[t]`` and shape it to broadcast against ``like`` along dim 0.

    values: 1-D tensor indexed by the step (e.g. the (T+1,) output of ``alpha_bar``).
    t: int, or LongTensor of shape (B,) with B = like.shape[0].
    like: (B, ...) tensor.
    Returns a tensor with like's device and dtype: 0-dim for an int t, otherwise (B, 1, ..., 1)
    with like.dim() dimensions.
    """
    if isinstance(t, torch.Tensor):
        out = values[t.to(values.device).long()]
        if out.dim() == 1:
            if out.shape[0] != like.shape[0]:
                raise ValueError(f"t has {out.shape[0]} entries but the batch has {like.shape[0]}")
            out = out.reshape((-1,) + (1,) * (like.dim() - 1))  # (B,) -> (B, 1, ..., 1)
    else:
        out = values[int(t)]
    return out.to(device=like.device, dtype=like.dtype)

"""Given code for the diffusion notebook: a binary denoiser, its training loop and its sampler.

Time-index convention (as in ``binary_diffusion.py``): ``t`` counts forward steps, ``t = 0`` is a
clean image and ``t = T`` is almost a page of fair coins. The denoiser is one network shared by
all steps: ``model(y_t, t)`` returns logits whose sigmoid is the model's
Q_t(Y_{t-1}[j] = +1 | Y_t = y_t) for every pixel j (HW12 Q1(c)). Sampling runs t = T, ..., 1,
and each step turns a sample of time t into a sample of time t - 1.

Images are float tensors of shape (B, 1, H, W) with entries in {-1.0, +1.0}.
The training loop runs your ``sample_forward`` and ``diffusion_loss`` (hw12/binary_diffusion.py),
which it receives as arguments.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "timestep_embedding",
    "BinaryDenoiser",
    "train_binary_diffusion",
    "reverse_step",
    "sample_reverse",
    "linear_beta_schedule",
]


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------

def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of integer steps (Vaswani et al., 2017, Sec. 3.5; as used by DDPM).

    Args:
        t: (B,) integer or float steps.
        dim: even number of features.

    Returns:
        (B, dim) float tensor: cosines in the first half, sines in the second.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]                                          # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)                                 # (B, dim)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection; the step embedding enters as a bias."""

    def __init__(self, channels: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, channels)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """h: (B, C, H, W), emb: (B, E) -> (B, C, H, W)."""
        z = self.conv1(torch.nn.functional.silu(self.norm1(h)))
        z = z + self.emb(emb)[:, :, None, None]                  # (B, C, 1, 1) per-step bias
        z = self.conv2(torch.nn.functional.silu(self.norm2(z)))
        return h + z


class BinaryDenoiser(nn.Module):
    """A small U-Net shared over all steps t: (y_t, t) -> logits of P(Y_{t-1} = +1 | Y_t = y_t).

    Resolutions H, H/2, H/4 (H and W must be multiples of 4), widths C, 2C, 2C.

    Args:
        T: number of forward steps (steps are rescaled to [0, 1000] before the embedding).
        channels: width C at full resolution (a multiple of 8 for the group norms).
        emb_dim: size of the step embedding.
    """

    def __init__(self, T: int, channels: int = 32, emb_dim: int = 64):
        super().__init__()
        c = channels
        self.T = T
        self.emb_dim = emb_dim
        self.embed = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.enc1 = ResBlock(c, emb_dim)
        self.down1 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.enc2 = ResBlock(2 * c, emb_dim)
        self.down2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid = ResBlock(2 * c, emb_dim)
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2)
        self.dec2 = ResBlock(2 * c, emb_dim)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = ResBlock(c, emb_dim)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))
        # A per-step gain on y_t added to the logits: most pixels keep their value from one step
        # to the next, so the network only has to learn the correction.
        self.keep_gain = nn.Embedding(T + 1, 1)
        nn.init.constant_(self.keep_gain.weight, 2.0)

    def forward(self, y_t: torch.Tensor, t) -> torch.Tensor:
        """y_t: (B, 1, H, W) ±1 floats; t: int or (B,) long in 1..T -> logits (B, 1, H, W)."""
        t = torch.as_tensor(t, device=y_t.device).long()
        if t.dim() == 0:
            t = t.expand(y_t.shape[0])                       # (B,) one step for the whole batch
        emb = self.embed(timestep_embedding(t * (1000.0 / self.T), self.emb_dim))    # (B, E)
        h1 = self.enc1(self.inp(y_t), emb)                   # (B, C, H, W)
        h2 = self.enc2(self.down1(h1), emb)                  # (B, 2C, H/2, W/2)
        h = self.mid(self.down2(h2), emb)                    # (B, 2C, H/4, W/4)
        h = self.dec2(self.up2(h) + h2, emb)                 # (B, 2C, H/2, W/2)
        h = self.dec1(self.up1(h) + h1, emb)                 # (B, C, H, W)
        gain = self.keep_gain(t)[:, :, None, None]           # (B, 1, 1, 1)
        return self.out(h) + gain * y_t                      # (B, 1, H, W)


# --------------------------------------------------------------------------------------------
# Training and sampling
# --------------------------------------------------------------------------------------------

def _rand(shape, generator: torch.Generator | None, device) -> torch.Tensor:
    """Uniform [0, 1) draws made on the generator's device and moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def _randint(low: int, high: int, shape, generator: torch.Generator | None, device) -> torch.Tensor:
    """Integers in [low, high) made on the generator's device and moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.randint(low, high, shape, generator=generator, device=gen_device).to(device)


def train_binary_diffusion(model: nn.Module, data: torch.Tensor, cfg,
                           sample_forward: Callable, diffusion_loss: Callable,
                           generator: torch.Generator | None = None,
                           progress: bool = True) -> list[float]:
    """Fit ``model`` with the KL loss of Q1(e), drawing t uniformly from 1..T for each image.

    One step: pick ``cfg.batch_size`` images x0, draw t, sample y_t ~ q(Y_t | Y_0 = x0) with
    ``sample_forward``, and minimise ``diffusion_loss(model(y_t, t), y_t, x0, t, cfg.delta)``.

    Args:
        model: maps ((B, 1, H, W) ±1, (B,) long) to logits (B, 1, H, W); trained in place.
        data: (N, 1, H, W) ±1 training images (on any device; batches move to the model's).
        cfg: a ``DiffusionConfig`` (uses T, delta, lr, train_steps, batch_size).
        sample_forward, diffusion_loss: the functions of hw12/binary_diffusion.py (Q1(b), Q1(e)).
        generator: randomness for batches, steps and forward samples.
        progress: show a tqdm progress bar.

    Returns:
        The loss of every step (floats), in order.
    """
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.train_steps, 1))
    losses: list[float] = []
    model.train()
    bar = tqdm(range(cfg.train_steps), desc="training", disable=not progress)
    for _ in bar:
        idx = _randint(0, data.shape[0], (cfg.batch_size,), generator, data.device)
        x0 = data[idx].to(device)                                           # (B, 1, H, W)
        t = _randint(1, cfg.T + 1, (cfg.batch_size,), generator, device)    # (B,)
        y_t = sample_forward(x0, t, cfg.delta, generator=generator)         # (B, 1, H, W)
        loss = diffusion_loss(model(y_t, t), y_t, x0, t, cfg.delta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.2f}", refresh=False)
    model.eval()
    return losses


def reverse_step(model: nn.Module, y_t: torch.Tensor, t: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """One ancestral step: draw Y_{t-1}[j] = +1 with probability sigmoid(model(y_t, t))[j].

    Args:
        y_t: (B, 1, H, W) ±1 floats at time t (1 <= t <= T).

    Returns:
        (B, 1, H, W) ±1 floats at time t - 1.
    """
    p_plus = torch.sigmoid(model(y_t, t))                      # (B, 1, H, W)
    u = _rand(y_t.shape, generator, y_t.device)
    return torch.where(u < p_plus, 1.0, -1.0).to(y_t.dtype)


@torch.no_grad()
def sample_reverse(model: nn.Module, shape, cfg, generator: torch.Generator | None = None,
                   return_trajectory: bool = False):
    """Generate images: fair coins at t = T, then ``reverse_step`` for t = T, T-1, ..., 1.

    Args:
        model: the trained denoiser.
        shape: (B, 1, H, W) of the batch to generate.
        cfg: a ``DiffusionConfig`` (uses T).
        generator: randomness for the coins and the ancestral draws.
        return_trajectory: also return every intermediate state.

    Returns:
        (B, 1, H, W) ±1 samples of time 0; with ``return_trajectory`` also a
        (T + 1, B, 1, H, W) tensor whose entry [t] is the state at time t.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    y = torch.where(_rand(shape, generator, device) < 0.5, 1.0, -1.0)   # Y_T: fair coins
    states = [y]
    for t in range(cfg.T, 0, -1):
        y = reverse_step(model, y, t, generator)
        states.append(y)
    model.train(was_training)
    if return_trajectory:
        return y, torch.stack(states[::-1])                 # index t holds the state at time t
    return y


# --------------------------------------------------------------------------------------------
# Gaussian schedule for Q2
# --------------------------------------------------------------------------------------------

def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """β_1..β_T spaced linearly, in float64 (Ho et al., 2020, Sec. 4).

    Returns:
        (T,) float64 tensor; entry [t - 1] is β_t.
    """
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)

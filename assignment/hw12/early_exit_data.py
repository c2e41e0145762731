"""Data for the early-exit notebook (HW12 Q3b): a generated ten-class image set and CIFAR-10.

Nothing here downloads anything unless you ask for it. The default data set is generated on the fly:
32x32 RGB images of ten classes (a shape drawn in a class colour), each with its own difficulty
level in [0, 1]. At difficulty 0 the picture is clean and the colour alone names the class; as the
difficulty grows the colour drifts towards a random one, the shape fades, blurs, gets noisy and is
partly covered. Easy pictures can be classified by a shallow network, hard ones need the whole
network (or are beyond it), which is the situation early exit is made for.

CIFAR-10 (``torchvision.datasets.CIFAR10``) is used when you pass ``source="cifar10"``: it is read
from ``root`` and downloaded only with ``download=True``. torchvision is imported inside that
function only.

Conventions:
    images: (N, 3, 32, 32) float32 in [0, 1] (channels R, G, B), like ``ToTensor()`` output.
    labels: (N,) int64 in 0..9.
    difficulty: (N,) float32 in [0, 1] (generated data only).
Everything generated is a deterministic function of ``seed``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SIZE",
    "make_shapes10",
    "load_cifar10",
    "load_datasets",
    "make_loader",
    "batches",
    "image_grid",
]

IMAGE_SIZE = 32
NUM_CLASSES = 10
CLASS_NAMES = ("disk", "square", "triangle", "plus", "ring",
               "stripes", "diamond", "checker", "two-dots", "bar")
CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                       "dog", "frog", "horse", "ship", "truck")

# One hue per class (fractions of the colour wheel), chosen so that neighbouring hues belong to
# shapes that look different.
_CHUNK = 1024  # images rendered at a time
_CLASS_HUES = torch.tensor([0.00, 0.55, 0.15, 0.70, 0.35, 0.85, 0.05, 0.45, 0.25, 0.62])


# --------------------------------------------------------------------------------------------
# Generated data
# --------------------------------------------------------------------------------------------

def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV -> RGB. h, s, v: (n,) in [0, 1]. Returns (n, 3)."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + 6.0 * h[:, None]) % 6.0           # (n, 3)
    return v[:, None] - (v * s)[:, None] * (torch.minimum(k, 4.0 - k).clamp(0.0, 1.0))


def _shape_masks(label: int, u: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Soft mask in [0, 1] of the class-``label`` shape.

    u, v: (n, S, S) coordinates in the shape's own rotated frame; r: (n, 1, 1) size.
    Returns (n, S, S). A signed "inside" score is mapped through a steep sigmoid for smooth edges.
    """
    d = torch.sqrt(u * u + v * v)
    if label == 0:      # disk
        inside = r - d
    elif label == 1:    # square
        inside = 0.8 * r - torch.maximum(u.abs(), v.abs())
    elif label == 2:    # triangle pointing up (v grows downwards)
        inside = torch.minimum(v + 0.55 * r, 0.45 * (0.9 * r - v) - 0.9 * u.abs())
    elif label == 3:    # plus sign
        arm = torch.maximum(torch.minimum(0.3 * r - u.abs(), r - v.abs()),
                            torch.minimum(0.3 * r - v.abs(), r - u.abs()))
        inside = arm
    elif label == 4:    # ring
        inside = 0.22 * r - (d - 0.7 * r).abs()
    elif label == 5:    # stripes inside a disk
        inside = torch.minimum(r - d, 0.08 * torch.sin(v * (3.0 * math.pi) / r.clamp_min(1e-3)))
    elif label == 6:    # diamond
        inside = 0.95 * r - (u.abs() + v.abs())
    elif label == 7:    # checkerboard inside a square
        period = math.pi * 2.0 / r.clamp_min(1e-3)
        inside = torch.minimum(0.85 * r - torch.maximum(u.abs(), v.abs()),
                               0.08 * torch.sin(u * period) * torch.sin(v * period))
    elif label == 8:    # two dots side by side
        d1 = torch.sqrt((u - 0.55 * r) ** 2 + v * v)
        d2 = torch.sqrt((u + 0.55 * r) ** 2 + v * v)
        inside = 0.4 * r - torch.minimum(d1, d2)
    elif label == 9:    # horizontal bar
        inside = torch.minimum(r - u.abs(), 0.3 * r - v.abs())
    else:
        raise ValueError(f"label must be in 0..9, got {label}")
    return torch.sigmoid(inside * 40.0)


def _render(labels: torch.Tensor, difficulty: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Draw one chunk of images. labels, difficulty: (n,). Returns (n, 3, S, S) in [0, 1]."""
    n, S = labels.shape[0], IMAGE_SIZE
    d = difficulty
    rnd = torch.rand(n, 16, generator=g)                                    # (n, 16) uniforms
    noise = torch.randn(n, 3, S, S, generator=g)

    # geometry: centre, size and rotation of the shape (harder -> more off-centre and smaller)
    cx = (rnd[:, 0] - 0.5) * (0.3 + 0.5 * d)
    cy = (rnd[:, 1] - 0.5) * (0.3 + 0.5 * d)
    r = 0.75 - 0.25 * rnd[:, 2] - 0.15 * d
    theta = (rnd[:, 3] - 0.5) * (0.6 + 1.2 * d)
    coords = (torch.arange(S, dtype=torch.float32) + 0.5) / S * 2.0 - 1.0  # pixel centres in [-1, 1]
    yy, xx = coords[None, :, None], coords[None, None, :]                   # (1, S, 1), (1, 1, S)
    dx, dy = xx - cx[:, None, None], yy - cy[:, None, None]                 # (n, S, S)
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy                               # rotated frame
    mask = torch.empty(n, S, S)
    for k in range(NUM_CLASSES):
        idx = (labels == k).nonzero(as_tuple=True)[0]
        if idx.numel():
            mask[idx] = _shape_masks(k, u[idx], v[idx], r[idx, None, None])

    # colours: the class colour drifts towards a random colour as the difficulty grows
    hue_class = _CLASS_HUES[labels]
    drift = (1.4 * d - 0.2).clamp(0.0, 1.0)
    hue = (hue_class + drift * (rnd[:, 4] - 0.5)) % 1.0
    fg = _hsv_to_rgb(hue, 0.55 + 0.4 * rnd[:, 5], 0.6 + 0.4 * rnd[:, 6])    # (n, 3)
    bg = _hsv_to_rgb(rnd[:, 7], 0.25 * rnd[:, 8], 0.05 + 0.9 * rnd[:, 9])  # (n, 3) greyish
    alpha = (1.0 - 0.55 * d)[:, None, None, None]                           # shape contrast
    img = bg[:, :, None, None] + alpha * mask[:, None] * (fg - bg)[:, :, None, None]

    # blur: 0, 1 or 2 passes of a 3x3 box filter depending on the difficulty
    passes = (d * 2.999).floor().long()
    out = img.clone()
    for p in (1, 2):
        img = F.avg_pool2d(img, 3, stride=1, padding=1, count_include_pad=False)
        out[passes >= p] = img[passes >= p]

    # occlusion: a random rectangle of a random colour, more likely and larger when harder
    occluded = rnd[:, 10] < d
    side = (S * (0.2 + 0.35 * d)).long()                                    # (n,) side in px
    x0 = (rnd[:, 11] * (S - side)).long()
    y0 = (rnd[:, 12] * (S - side)).long()
    pix = torch.arange(S)
    box = (((pix[None, :] >= x0[:, None]) & (pix[None, :] < (x0 + side)[:, None]))[:, None, :]
           & ((pix[None, :] >= y0[:, None]) & (pix[None, :] < (y0 + side)[:, None]))[:, :, None])
    box &= occluded[:, None, None]                                          # (n, S, S)
    patch = _hsv_to_rgb(rnd[:, 13], rnd[:, 14], rnd[:, 15])                 # (n, 3)
    out = torch.where(box[:, None], patch[:, :, None, None], out)

    # pixel noise
    sigma = (0.02 + 0.3 * d * d)[:, None, None, None]
    return (out + sigma * noise).clamp(0.0, 1.0)


def make_shapes10(n: int, seed: int = 0,
                  difficulty: float | Sequence[float] | torch.Tensor | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate ``n`` labelled 32x32 RGB images of the ten-class shapes data set.

    Args:
        n: number of images. Classes are balanced (counts differ by at most one) and shuffled.
        seed: the result is a deterministic function of (n, seed, difficulty).
        difficulty: None draws each example's difficulty uniformly from [0, 1]; a float gives
            every example that level; a sequence/tensor of length n gives each its own.

    Returns:
        images (n, 3, 32, 32) float32 in [0, 1], labels (n,) int64, difficulty (n,) float32.
    """
    g = torch.Generator().manual_seed(int(seed))
    labels = (torch.arange(n) % NUM_CLASSES)[torch.randperm(n, generator=g)]
    if difficulty is None:
        diff = torch.rand(n, generator=g)
    else:
        diff = torch.as_tensor(difficulty, dtype=torch.float32).expand(n).clone()
        if bool(((diff < 0) | (diff > 1)).any()):
            raise ValueError("difficulty must lie in [0, 1]")
    images = torch.empty(n, 3, IMAGE_SIZE, IMAGE_SIZE)
    for start in range(0, n, _CHUNK):
        # render in blocks to bound memory; each block has its own generator (seed, block index)
        cg = torch.Generator().manual_seed(int(seed) * 1_000_003 + start // _CHUNK + 1)
        stop = min(n, start + _CHUNK)
        images[start:stop] = _render(labels[start:stop], diff[start:stop], cg)
    return images, labels, diff


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------

def load_cifar10(root: str = "data", train: bool = True,
                 download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 as tensors: images (N, 3, 32, 32) float32 in [0, 1] and labels (N,) int64.

    Reads ``root/cifar-10-batches-py``; downloads it first only when ``download=True``.
    """
    try:
        from torchvision.datasets import CIFAR10  # local import: grading never needs torchvision
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("CIFAR-10 needs torchvision; install it or use source='shapes10'") from e
    try:
        ds = CIFAR10(root=root, train=train, download=download)
    except RuntimeError as e:
        raise FileNotFoundError(
            f"CIFAR-10 was not found under {root!r}. Pass download=True on a machine with "
            "internet access, or use the generated data (source='shapes10').") from e
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, 32, 32)
    labels = torch.as_tensor(ds.targets, dtype=torch.int64)
    return images, labels


# --------------------------------------------------------------------------------------------
# Data sets and loaders
# --------------------------------------------------------------------------------------------

def load_datasets(source: str = "shapes10", n_train: int = 20000, n_val: int = 2000, seed: int = 0,
                  root: str = "data", download: bool = False) -> tuple[TensorDataset, TensorDataset]:
    """Training and validation sets as ``TensorDataset``s of (image, label).

    source: "shapes10" (generated; ``n_train``/``n_val`` images from disjoint seeds) or
    "cifar10" (the official train/test split; ``n_train``/``n_val`` cap the sizes, 0 = all).
    """
    if source == "shapes10":
        xtr, ytr, _ = make_shapes10(n_train, seed=2 * seed)
        xva, yva, _ = make_shapes10(n_val, seed=2 * seed + 1)
    elif source == "cifar10":
        xtr, ytr = load_cifar10(root, train=True, download=download)
        xva, yva = load_cifar10(root, train=False, download=download)
        if n_train:
            xtr, ytr = xtr[:n_train], ytr[:n_train]
        if n_val:
            xva, yva = xva[:n_val], yva[:n_val]
    else:
        raise ValueError(f"unknown data source {source!r}; use 'shapes10' or 'cifar10'")
    return TensorDataset(xtr, ytr), TensorDataset(xva, yva)


def make_loader(dataset, batch_size: int = 128, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` whose shuffling order is fixed by ``seed`` (no worker processes)."""
    g = torch.Generator().manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=g)


def batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> list:
    """Split tensors into a list of (x (b, 3, 32, 32), y (b,)) pairs, in order."""
    return [(images[i:i + batch_size], labels[i:i + batch_size])
            for i in range(0, images.shape[0], batch_size)]


def image_grid(images: torch.Tensor, nrow: int = 10, pad: int = 1) -> torch.Tensor:
    """Tile (N, 3, H, W) images into one (rows*(H+pad)+pad, nrow*(W+pad)+pad, 3) array for imshow."""
    images = images.detach().float().cpu()
    n, _, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.ones(rows * (h + pad) + pad, nrow * (w + pad) + pad, 3)
    for k in range(n):
        r, c = divmod(k, nrow)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = images[k].permute(1, 2, 0)
    return grid

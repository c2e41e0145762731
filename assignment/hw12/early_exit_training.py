"""Configuration, data batches, training loop and threshold sweep of the early-exit notebook
(HW12 Q3b). Given code.

Images are float tensors of shape (B, C, H, W) (B examples along dim 0); labels are int64 class
indices of shape (B,). The loops here use your functions from ``hw12/early_exit.py`` only through
their arguments: ``train`` takes the early-exit loss as ``exit_loss`` and ``threshold_sweep`` the
evaluation as ``evaluate`` (``early_exit.train`` passes your ``early_exit_loss``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from hw12.code_hash import file_sha256  # the notebook's name for the code hash

try:  # progress bars are a convenience; the grader does not install tqdm
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    class tqdm:  # noqa: N801 - a silent stand-in with the few methods used here
        def __init__(self, iterable=None, **_kwargs):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def update(self, _n=1):
            pass

        def close(self):
            pass

__all__ = ["EarlyExitConfig", "Batches", "train", "evaluate_accuracy", "threshold_sweep",
           "file_sha256"]


# ============================================================================================
# Configuration
# ============================================================================================

def _quick_mode() -> bool:
    """True when the environment variable HW12_QUICK asks for the small, fast run."""
    return os.environ.get("HW12_QUICK", "0").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class EarlyExitConfig:
    """Every knob of the early-exit notebook. Build it with ``EarlyExitConfig.from_env()``.

    In quick mode (``HW12_QUICK=1``) the ``quick_*`` values replace the full-size ones.
    """

    seed: int = field(default=0, metadata={
        "help": "Seed for data generation, initialisation and the order of training batches."})
    quick: bool = field(default=False, metadata={
        "help": "Whether the quick_* sizes are in force (set by from_env when HW12_QUICK=1)."})
    device: str = field(default="auto", metadata={
        "help": "'auto' (cuda when available, else cpu), 'cpu' or 'cuda'."})
    progress: bool = field(default=True, metadata={
        "help": "Show tqdm progress bars while training."})

    # ---- data ----
    data_source: str = field(default="shapes10", metadata={
        "help": "'shapes10' (generated offline, default) or 'cifar10' (read from data_root)."})
    data_root: str = field(default="data", metadata={
        "help": "Directory holding cifar-10-batches-py (only for data_source='cifar10')."})
    download: bool = field(default=False, metadata={
        "help": "Let torchvision download CIFAR-10 into data_root (needs internet)."})
    n_train: int = field(default=50000, metadata={
        "help": "Training images (generated, or the first n_train of CIFAR-10; 0 = all)."})
    n_val: int = field(default=5000, metadata={
        "help": "Validation images (generated, or the first n_val of the CIFAR-10 test set)."})
    augment: bool = field(default=False, metadata={
        "help": "Random horizontal flips and 4-pixel random crops of training batches "
                "(worth it for cifar10; the generated data are plentiful anyway)."})

    # ---- models ----
    widths: tuple = field(default=(16, 32, 64), metadata={
        "help": "Channels of the stages of the baseline and early-exit ResNets (stride 2 between)."})
    blocks_per_stage: int = field(default=2, metadata={
        "help": "Basic blocks per stage of the baseline and early-exit ResNets."})
    small_widths: tuple = field(default=(16, 32, 64), metadata={
        "help": "Channels of the stages of the smaller ResNet (3b-v)."})
    small_blocks_per_stage: int = field(default=1, metadata={
        "help": "Basic blocks per stage of the smaller ResNet."})

    # ---- training ----
    epochs: int = field(default=15, metadata={
        "help": "Passes over the training set per model."})
    batch_size: int = field(default=128, metadata={
        "help": "Examples per optimiser step."})
    lr: float = field(default=0.1, metadata={
        "help": "Peak learning rate of SGD with Nesterov momentum (linear warm-up, cosine decay)."})
    momentum: float = field(default=0.9, metadata={
        "help": "SGD momentum."})
    weight_decay: float = field(default=5e-4, metadata={
        "help": "L2 weight decay."})
    warmup_frac: float = field(default=0.05, metadata={
        "help": "Fraction of the steps spent warming the learning rate up from 0."})
    max_train_seconds: float = field(default=540.0, metadata={
        "help": "Wall-clock cap per model (the homework allows 10 minutes); 0 = no cap."})
    exit_weights: tuple | None = field(default=None, metadata={
        "help": "Weight of each exit's cross-entropy in early_exit_loss; None = all 1."})

    # ---- evaluation ----
    threshold: float = field(default=0.5, metadata={
        "help": "Confidence threshold used for questions 3b ii-iv."})
    thresholds: tuple = field(default=tuple(round(0.05 * i, 2) for i in range(21)), metadata={
        "help": "Thresholds of the sweep (3b iv and vi)."})
    eval_batch_size: int = field(default=500, metadata={
        "help": "Examples per batch at evaluation."})

    # ---- quick-mode replacements ----
    quick_n_train: int = field(default=3000, metadata={"help": "n_train in quick mode."})
    quick_n_val: int = field(default=1000, metadata={"help": "n_val in quick mode."})
    quick_epochs: int = field(default=3, metadata={"help": "epochs in quick mode."})
    quick_widths: tuple = field(default=(8, 16, 32), metadata={"help": "widths in quick mode."})
    quick_small_widths: tuple = field(default=(8, 16, 32), metadata={
        "help": "small_widths in quick mode."})
    quick_blocks_per_stage: int = field(default=1, metadata={
        "help": "blocks_per_stage in quick mode (the smaller ResNet then gets half the width)."})

    @classmethod
    def from_env(cls, **overrides) -> "EarlyExitConfig":
        """The configuration for this run: full size, or quick sizes when ``HW12_QUICK=1``.

        The environment variable ``HW12_EARLY_EXIT_CONFIG`` may hold a JSON object of field values
        applied last (e.g. '{"device": "cpu", "epochs": 6}'), so a run can be resized without
        editing the notebook.
        """
        cfg = cls(**overrides)
        cfg = cfg.as_quick() if _quick_mode() else cfg
        raw = os.environ.get("HW12_EARLY_EXIT_CONFIG", "").strip()
        if raw:
            extra = _as_config(json.loads(raw))  # validates the field names
            cfg = dataclasses.replace(cfg, **{k: getattr(extra, k) for k in json.loads(raw)})
        return cfg

    def as_quick(self) -> "EarlyExitConfig":
        """A copy with every ``quick_*`` value moved into its full-size field."""
        half = tuple(max(1, w // 2) for w in self.quick_small_widths)
        return dataclasses.replace(
            self, quick=True, n_train=self.quick_n_train, n_val=self.quick_n_val,
            epochs=self.quick_epochs, widths=self.quick_widths,
            blocks_per_stage=self.quick_blocks_per_stage,
            small_widths=half, small_blocks_per_stage=self.quick_blocks_per_stage)

    def resolved_device(self) -> torch.device:
        """The torch.device that ``device`` names ('auto' picks cuda when it is available)."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def to_dict(self) -> dict:
        """Plain-data copy (tuples become lists), e.g. for a JSON file."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @staticmethod
    def describe() -> str:
        """One line per field: name, default and help text."""
        return "\n".join(f"{f.name:>24} = {f.default!r:<12} {f.metadata['help']}"
                         for f in dataclasses.fields(EarlyExitConfig))


def _as_config(cfg) -> EarlyExitConfig:
    """Accept an EarlyExitConfig, a dict of overrides, or None (defaults)."""
    if cfg is None:
        return EarlyExitConfig()
    if isinstance(cfg, dict):
        fields = {f.name for f in dataclasses.fields(EarlyExitConfig)}
        unknown = set(cfg) - fields
        if unknown:
            raise TypeError(f"unknown EarlyExitConfig fields: {sorted(unknown)}")
        return EarlyExitConfig(**{k: (tuple(v) if isinstance(v, list) else v)
                                  for k, v in cfg.items()})
    return cfg


# ============================================================================================
# Batches, training and sweeps
# ============================================================================================

class Batches:
    """A re-iterable list of (x (b, C, H, W), y (b,)) batches, optionally kept on one device.

    Holding the validation set on the GPU once saves copying it again at every threshold of a
    sweep. With ``shuffle=True`` each pass visits the examples in a new order drawn from ``seed``.

    Args:
        images: (N, C, H, W) tensor; labels: (N,) int64 tensor.
        batch_size: examples per batch (the last batch may be smaller).
        device: where to keep the tensors (None: leave them where they are).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
                 device=None, shuffle: bool = False, seed: int = 0):
        if device is not None:
            images, labels = images.to(device), labels.to(device)
        self.images, self.labels, self.batch_size = images, labels, int(batch_size)
        self.shuffle = shuffle
        self._g = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return math.ceil(self.images.shape[0] / self.batch_size)

    def __iter__(self):
        n = self.images.shape[0]
        order = torch.randperm(n, generator=self._g).to(self.images.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.images[start:start + self.batch_size], self.labels[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                yield self.images[idx], self.labels[idx]


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and random crop of a 4-pixel zero-padded copy, per example.

    x: (B, C, H, W) -> (B, C, H, W). Randomness comes from ``g`` (a CPU generator).
    """
    B, _, H, W = x.shape
    flip = (torch.rand(B, generator=g) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (4, 4, 4, 4))                                        # (B, C, H+8, W+8)
    dy, dx = torch.randint(0, 9, (2, B), generator=g).tolist()
    return torch.stack([padded[b, :, dy[b]:dy[b] + H, dx[b]:dx[b] + W] for b in range(B)])


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer,
               exit_loss: Callable | None = None, exit_weights=None) -> float:
    """One optimiser step on the batch x (b, C, H, W), y (b,); the loss before the step.

    Early-exit models (whose forward returns a list) use ``exit_loss(exit_logits, y,
    exit_weights)``, plain models cross-entropy. ``optimizer`` needs ``zero_grad`` and ``step``
    (``hw12/replay.py`` replays this step with a small stand-in for torch's SGD).
    """
    out = model(x)
    if isinstance(out, (list, tuple)):
        if exit_loss is None:
            raise TypeError("an early-exit model needs exit_loss (early_exit_loss)")
        loss = exit_loss(out, y, exit_weights)
    else:
        loss = F.cross_entropy(out, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train(model: nn.Module, loader, cfg=None, exit_loss: Callable | None = None) -> dict:
    """Train ``model`` in place with SGD (Nesterov momentum), linear warm-up then cosine decay.

    Early-exit models (whose forward returns a list) are trained with
    ``exit_loss(exit_logits, targets, cfg.exit_weights)``; plain models with cross-entropy. torch
    is seeded with ``cfg.seed`` first, so a run is repeatable on the same machine.

    Args:
        model: the network; moved to ``cfg.resolved_device()``.
        loader: iterable of (x (b, C, H, W), y (b,)) batches (a DataLoader or a list); it is
            iterated ``cfg.epochs`` times.
        cfg: EarlyExitConfig, a dict of its fields, or None for the defaults.
        exit_loss: ``early_exit_loss`` of hw12/early_exit.py; needed for early-exit models only.

    Returns:
        {"loss": list of per-step losses, "steps": int, "seconds": float, "stopped_early": bool}
    """
    cfg = _as_config(cfg)
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    device = cfg.resolved_device()
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=cfg.momentum > 0, weight_decay=cfg.weight_decay)
    total = max(1, cfg.epochs * len(loader))
    warm = max(1, int(cfg.warmup_frac * total))

    def lr_factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    history = {"loss": [], "steps": 0, "seconds": 0.0, "stopped_early": False}
    start = time.perf_counter()
    bar = tqdm(total=total, desc=type(model).__name__, disable=not cfg.progress, leave=False)
    for _epoch in range(cfg.epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if cfg.augment:
                x = _augment(x, g)
            history["loss"].append(train_step(model, x, y, opt, exit_loss, cfg.exit_weights))
            sched.step()
            history["steps"] += 1
            bar.update(1)
            if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                history["stopped_early"] = True
                break
        if history["stopped_early"]:
            break
    bar.close()
    model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, loader) -> float:
    """Accuracy of a plain classifier (for an early-exit model: of its final head) over ``loader``."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = n = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        correct += int((out.argmax(-1) == y).sum())
        n += int(y.numel())
    model.train(was_training)
    return correct / n


def threshold_sweep(model: nn.Module, loader, thresholds: Sequence[float],
                    evaluate: Callable[[nn.Module, object, float], dict]) -> dict:
    """``evaluate(model, loader, threshold)`` at each threshold, in the order given; ``evaluate``
    is ``evaluate_early_exit`` of hw12/early_exit.py.

    Returns {"thresholds", "accuracy", "mac_ratio", "early_exit_rate": lists of floats,
    "exit_fraction": list of lists}.
    """
    out = {"thresholds": [], "accuracy": [], "mac_ratio": [], "early_exit_rate": [],
           "exit_fraction": []}
    for t in tqdm(list(thresholds), desc="sweep", leave=False):
        r = evaluate(model, loader, float(t))
        out["thresholds"].append(float(t))
        for key in ("accuracy", "mac_ratio", "early_exit_rate", "exit_fraction"):
            out[key].append(r[key])
    return out



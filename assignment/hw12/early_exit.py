"""HW12 Q3: early exit. Part (a) is the toy Gaussian cascade, part (b) an early-exit ResNet.

Conventions used throughout this file
-------------------------------------
* Images are float tensors of shape (B, C, H, W) (B examples along dim 0); labels are int64
  class indices of shape (B,). Logits are (B, num_classes).
* An ``EarlyExitResNet`` with S stages has S exits, numbered from 0: exit i is a small classifier
  ("head") right after stage i, and exit S-1 is the final head, in the same place as the classifier
  of a plain ``ResNet``. ``forward(x)`` returns the S logits tensors in that order.
* The confidence of an exit is its maximum softmax probability, a number in (0, 1]. At inference an
  example leaves at the first exit whose confidence is >= ``threshold``; the final exit always
  answers. So threshold 0 sends every example out of exit 0, and any threshold above 1 sends every
  example to the final exit (the full model).
* MACs are multiply-accumulates per example, counted over convolution and linear layers with
  ``torch.utils.flop_counter`` (one fused multiply-add = 1 MAC = 2 FLOPs).
* An example that leaves at exit i has paid for the stem, stages 0..i and heads 0..i (it evaluated
  every earlier head and went on). This is the "cumulative MACs" of exit i; the cumulative MACs of
  the final exit is the cost of one full ``forward`` and is the "full-model MACs". The MAC ratio of
  an early-exit run is  sum_i exit_fraction[i] * cumulative_macs[i] / full_model_macs, which is 1
  when every example goes to the end. (The intermediate heads are a global average pool and one
  linear layer, so full-model MACs exceed those of the plain ResNet by well under 0.1%.)

Part (a): X_i ~ N(0, 2^-(i-1)) independent, Y_k = X_1 + ... + X_k and Y = sum of all X_i.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

try:  # progress bars are a convenience; the grader does not need them
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    def tqdm(iterable=None, **_kwargs):
        return iterable

__all__ = [
    "prob_final_nonpositive", "Q3A_II", "Q3A_III",
    "EarlyExitConfig", "BasicBlock", "Stage", "ResNet", "SmallResNet", "EarlyExitResNet",
    "early_exit_loss", "count_macs", "evaluate_early_exit", "min_threshold_beating",
    "Batches", "train", "evaluate_accuracy", "threshold_sweep", "file_sha256",
]


# ============================================================================================
# Part (a): the toy cascade
# ============================================================================================

def prob_final_nonpositive(M, k):
    """P(Y <= 0 | Y_k = M) for the cascade X_i ~ N(0, 2^-(i-1)), i = 1, 2, ...

    Args:
        M: value of the partial sum Y_k; a Python number or a tensor.
        k: number of terms already summed (k >= 0); a Python int or an integer/float tensor.
            M and k broadcast against each other.

    Returns:
        A Python float when M and k are both Python numbers; otherwise a tensor of the broadcast
        shape, on the inputs' device, with M's floating dtype (the default dtype if M is not a
        floating tensor). Must stay accurate (small relative error) far in the lower tail,
        e.g. around 1e-14: write Φ(z) = 0.5 * erfc(-z / sqrt(2)) with ``math.erfc`` or
        ``torch.special.erfc``. (``torch.special.ndtr`` loses the relative accuracy there.)
    """
    # TODO: Y - Y_k = X_{k+1} + X_{k+2} + ... is independent of Y_k. What are its mean and variance?
    raise NotImplementedError("prob_final_nonpositive: not implemented yet (hw12/early_exit.py)")


# 3a-ii: P(Y <= 0 | Y_1 = 5) and 3a-iii: P(Y <= 0 | Y_40 = 0.00001), as Python floats.
Q3A_II = None  # TODO: replace None by your answer
Q3A_III = None  # TODO: replace None by your answer


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
# Models (given)
# ============================================================================================

class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (He et al., 2016, Fig. 2).

    (B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:  # projection shortcut ("option B" of the paper)
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Stage(nn.Sequential):
    """A run of basic blocks that counts the examples it has processed.

    ``examples_seen`` grows by the batch size at every call; ``EarlyExitResNet.stage_counts()``
    reads it, so you (and the tests) can see how many examples really reached each stage.
    """

    def __init__(self, in_ch: int, out_ch: int, blocks: int, stride: int):
        super().__init__(*[BasicBlock(in_ch if b == 0 else out_ch, out_ch, stride if b == 0 else 1)
                           for b in range(blocks)])
        self.examples_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.examples_seen += int(x.shape[0])
        return super().forward(x)


def _stem(in_channels: int, width: int) -> nn.Sequential:
    """3x3 conv + BN + ReLU at full resolution: (B, in_channels, H, W) -> (B, width, H, W)."""
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                         nn.BatchNorm2d(width), nn.ReLU(inplace=True))


def _stages(widths: Sequence[int], blocks_per_stage: int) -> nn.ModuleList:
    """Stage i maps width[i-1] -> width[i] channels; every stage after the first halves H and W."""
    widths = [int(w) for w in widths]
    return nn.ModuleList([Stage(widths[max(i - 1, 0)], w, blocks_per_stage, 1 if i == 0 else 2)
                          for i, w in enumerate(widths)])


def _head(width: int, num_classes: int) -> nn.Sequential:
    """Global average pool + linear: (B, width, h, w) -> (B, num_classes) logits."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


class ResNet(nn.Module):
    """A CIFAR-style ResNet: stem, len(widths) stages of basic blocks, pooled linear classifier.

    With the defaults (widths 16/32/64, 2 blocks per stage) it is ResNet-14 of He et al. (2016),
    about 27 M MACs per 32x32 image.

    forward: x (B, in_channels, H, W) -> logits (B, num_classes).
    """

    def __init__(self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64),
                 blocks_per_stage: int = 2, in_channels: int = 3):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.stem = _stem(in_channels, self.widths[0])
        self.stages = _stages(self.widths, blocks_per_stage)
        self.head = _head(self.widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)                       # (B, widths[0], H, W)
        for stage in self.stages:
            h = stage(h)                       # (B, widths[i], H / 2^i, W / 2^i)
        return self.head(h)                    # (B, num_classes)


class SmallResNet(ResNet):
    """The smaller ResNet of 3b-v: the same design with one basic block per stage (about half the
    MACs of the baseline with the defaults)."""

    def __init__(self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64),
                 blocks_per_stage: int = 1, in_channels: int = 3):
        super().__init__(num_classes, widths, blocks_per_stage, in_channels)


class _ExitPrefix(nn.Module):
    """The part of an EarlyExitResNet that an example leaving at exit ``last`` runs.

    forward: x (B, C, H, W) -> list of the logits of exits 0..last, each (B, num_classes).
    """

    def __init__(self, model: "EarlyExitResNet", last: int):
        super().__init__()
        self.model, self.last = model, int(last)

    def forward(self, x: torch.Tensor) -> list:
        return self.model._exit_logits(x, self.last)


class EarlyExitResNet(nn.Module):
    """The ResNet above with a classifier head after every stage (BranchyNet, Teerapittayanon et
    al., 2016). Exit i follows stage i; the last exit is the final head.

    forward: x (B, in_channels, H, W) -> list of num_exits logits tensors, each (B, num_classes).
    predict: see its docstring.
    """

    def __init__(self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64),
                 blocks_per_stage: int = 2, in_channels: int = 3):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.num_classes = int(num_classes)
        self.stem = _stem(in_channels, self.widths[0])
        self.stages = _stages(self.widths, blocks_per_stage)
        self.heads = nn.ModuleList([_head(w, num_classes) for w in self.widths])

    @property
    def num_exits(self) -> int:
        """Number of exits (= number of stages); the last one is the final head."""
        return len(self.heads)

    def _exit_logits(self, x: torch.Tensor, last: int) -> list:
        h = self.stem(x)                                  # (B, widths[0], H, W)
        out = []
        for i in range(last + 1):
            h = self.stages[i](h)                         # (B, widths[i], H / 2^i, W / 2^i)
            out.append(self.heads[i](h))                  # (B, num_classes)
        return out

    def forward(self, x: torch.Tensor) -> list:
        """Logits of every exit, all examples: list of num_exits tensors (B, num_classes)."""
        return self._exit_logits(x, self.num_exits - 1)

    def exits_up_to(self, i: int) -> nn.Module:
        """A module (sharing this model's weights) computing exits 0..i, i.e. what an example that
        leaves at exit i runs. ``count_macs(model.exits_up_to(i), x)`` is exit i's cumulative MACs."""
        if not 0 <= int(i) < self.num_exits:
            raise IndexError(f"exit {i} out of range 0..{self.num_exits - 1}")
        return _ExitPrefix(self, int(i))

    def reset_stage_counts(self) -> None:
        """Set every stage's ``examples_seen`` counter to 0."""
        for stage in self.stages:
            stage.examples_seen = 0

    def stage_counts(self) -> list:
        """Examples processed by each stage since the last ``reset_stage_counts()``: list of ints."""
        return [int(stage.examples_seen) for stage in self.stages]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, threshold: float):
        """Early-exit inference.

        Each example leaves at the first exit whose confidence (max softmax probability) is
        >= threshold; the final exit answers for every example still running. Stage i+1 and head
        i+1 must be computed only for the examples that have not left yet (select them with an
        index), so later stages see fewer examples. The decision for one example must not depend on
        the other examples in the batch. Does not change train/eval mode: call ``model.eval()``
        first.

        Args:
            x: (B, in_channels, H, W) images.
            threshold: confidence threshold (a float; 0 exits everything at exit 0, > 1 nothing
                before the final exit).

        Returns:
            predictions: (B,) int64 predicted class (argmax of the answering exit's logits).
            exit_index: (B,) int64 exit that answered, in 0..num_exits-1.
            confidence: (B,) floating (the logits' dtype), max softmax probability of that exit.
            All three on x's device.
        """
        # TODO: keep `active`, a LongTensor of the positions (in the batch) still running, and the
        # TODO: features h of only those examples; after each head, fill the outputs of the ones
        # TODO: that leave and shrink both `active` and h with a boolean mask.
        raise NotImplementedError("predict: not implemented yet (hw12/early_exit.py)")


# ============================================================================================
# Part (b): loss, MACs, evaluation
# ============================================================================================

def early_exit_loss(exit_logits, targets: torch.Tensor, weights=None) -> torch.Tensor:
    """Weighted sum over exits of the cross-entropy of each exit (each averaged over the batch).

    Args:
        exit_logits: list of K tensors (B, num_classes), as returned by EarlyExitResNet.forward
            (a stacked (K, B, num_classes) tensor works the same way).
        targets: (B,) int64 class indices.
        weights: None (every exit weighs 1) or K numbers (list, tuple or 1-D tensor).

    Returns:
        Scalar tensor  sum_k weights[k] * CE(exit_logits[k], targets), differentiable w.r.t. the
        logits.
    """
    # TODO: F.cross_entropy averages over the batch by default.
    raise NotImplementedError("early_exit_loss: not implemented yet (hw12/early_exit.py)")


def count_macs(module: nn.Module, example_input: torch.Tensor) -> float:
    """Multiply-accumulates of one forward pass of ``module``, per example.

    Use ``torch.utils.flop_counter.FlopCounterMode`` (it counts convolutions and matrix products,
    2 FLOPs per multiply-add). Run the module without gradients and in eval mode (so BatchNorm
    statistics are not updated), and leave every submodule's train/eval mode as it was.

    Args:
        module: any nn.Module whose forward takes one tensor.
        example_input: (B, ...) batch; the count is divided by B.

    Returns:
        MACs per example as a float.
    """
    # TODO: with FlopCounterMode(display=False) as counter: ...; counter.get_total_flops()
    raise NotImplementedError("count_macs: not implemented yet (hw12/early_exit.py)")


def evaluate_early_exit(model: EarlyExitResNet, loader: Iterable, threshold: float) -> dict:
    """Run ``model.predict`` over a data set and summarise the early-exit behaviour.

    Puts the model in eval mode for the run and restores its mode afterwards; moves each batch to
    the model's device.

    Args:
        model: an EarlyExitResNet (or anything with ``num_exits``, ``predict`` and ``exits_up_to``).
        loader: iterable of (x (b, C, H, W), y (b,)) batches, e.g. a DataLoader or a list.
        threshold: confidence threshold passed to ``predict``.

    Returns:
        dict of plain Python numbers:
            "accuracy": fraction of examples whose prediction equals the label.
            "exit_fraction": list of num_exits fractions (examples answered by each exit; sum 1).
            "early_exit_rate": fraction answered before the final exit.
            "confidence_early": mean confidence of the examples that left early (nan if none).
            "confidence_full": mean confidence of the examples answered by the final exit
                (nan if none).
            "exit_macs": list of the cumulative MACs of each exit (see the module docstring).
            "mac_ratio": sum_i exit_fraction[i] * exit_macs[i] / exit_macs[-1].
            "num_examples": number of examples seen.
    """
    # TODO: accumulate counts over batches (torch.bincount with minlength=num_exits helps);
    # TODO: exit i's cumulative MACs is count_macs(model.exits_up_to(i), one_batch).
    raise NotImplementedError("evaluate_early_exit: not implemented yet (hw12/early_exit.py)")


def min_threshold_beating(thresholds: Sequence[float], accuracies: Sequence[float],
                          target_accuracy: float):
    """Smallest threshold whose accuracy is strictly greater than ``target_accuracy`` (3b-vi).

    Args:
        thresholds: sequence of thresholds, in any order.
        accuracies: sequence of the same length; accuracies[j] belongs to thresholds[j].
        target_accuracy: the accuracy to beat (e.g. the smaller ResNet's).

    Returns:
        That threshold as a float, or None when no threshold beats the target (ties do not count).
        Raises ValueError when the two sequences differ in length.
    """
    raise NotImplementedError("min_threshold_beating: not implemented yet (hw12/early_exit.py)")


# ============================================================================================
# Training and sweeps (given)
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


def train(model: nn.Module, loader, cfg=None) -> dict:
    """Train ``model`` in place with SGD (Nesterov momentum), linear warm-up then cosine decay.

    Early-exit models (whose forward returns a list) are trained with ``early_exit_loss`` and
    ``cfg.exit_weights``; plain models with cross-entropy. torch is seeded with ``cfg.seed`` first,
    so a run is repeatable on the same machine.

    Args:
        model: the network; moved to ``cfg.resolved_device()``.
        loader: iterable of (x (b, C, H, W), y (b,)) batches (a DataLoader or a list); it is
            iterated ``cfg.epochs`` times.
        cfg: EarlyExitConfig, a dict of its fields, or None for the defaults.

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
            out = model(x)
            loss = (early_exit_loss(out, y, cfg.exit_weights) if isinstance(out, (list, tuple))
                    else F.cross_entropy(out, y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history["loss"].append(loss.item())
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
    """Accuracy of a plain classifier (for an EarlyExitResNet: of its final head) over ``loader``."""
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


def threshold_sweep(model: EarlyExitResNet, loader, thresholds: Sequence[float]) -> dict:
    """``evaluate_early_exit`` at each threshold, in the order given.

    Returns {"thresholds", "accuracy", "mac_ratio", "early_exit_rate": lists of floats,
    "exit_fraction": list of lists}.
    """
    out = {"thresholds": [], "accuracy": [], "mac_ratio": [], "early_exit_rate": [],
           "exit_fraction": []}
    for t in tqdm(list(thresholds), desc="sweep", leave=False):
        r = evaluate_early_exit(model, loader, float(t))
        out["thresholds"].append(float(t))
        for key in ("accuracy", "mac_ratio", "early_exit_rate", "exit_fraction"):
            out[key].append(r[key])
    return out


def file_sha256(path: str) -> str:
    """sha256 (hex) of a text file's contents read as UTF-8 with universal newlines."""
    with open(path, encoding="utf-8") as f:
        return hashlib.sha256(f.read().encode("utf-8")).hexdigest()

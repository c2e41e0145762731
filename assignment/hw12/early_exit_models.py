"""Networks of the early-exit notebook (HW12 Q3b): ResNet building blocks, the baseline and smaller
ResNets, and the multi-exit ResNet that ``hw12.early_exit.EarlyExitResNet`` extends. Given code.

Images are float tensors of shape (B, C, H, W) (B examples along dim 0); logits are
(B, num_classes). A network with S stages of basic blocks has S exits, numbered from 0: exit i is a
small classifier ("head", global average pool + linear) right after stage i, and exit S-1 is the
final head, in the same place as the classifier of a plain ``ResNet``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BasicBlock", "Stage", "ResNet", "SmallResNet", "MultiExitResNet"]


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

    ``examples_seen`` grows by the batch size at every call; ``MultiExitResNet.stage_counts()``
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
    """The part of a MultiExitResNet that an example leaving at exit ``last`` runs.

    forward: x (B, C, H, W) -> list of the logits of exits 0..last, each (B, num_classes).
    """

    def __init__(self, model: "MultiExitResNet", last: int):
        super().__init__()
        self.model, self.last = model, int(last)

    def forward(self, x: torch.Tensor) -> list:
        return self.model._exit_logits(x, self.last)


class MultiExitResNet(nn.Module):
    """The ResNet above with a classifier head after every stage (BranchyNet, Teerapittayanon et
    al., 2016). Exit i follows stage i; the last exit is the final head.

    This is everything of ``hw12.early_exit.EarlyExitResNet`` except early-exit inference
    (``predict``), which that subclass adds.

    forward: x (B, in_channels, H, W) -> list of num_exits logits tensors, each (B, num_classes).
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
        leaves at exit i runs. ``count_macs(model.exits_up_to(i), x)`` (hw12/early_exit.py) is
        exit i's cumulative MACs."""
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

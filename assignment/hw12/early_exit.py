"""HW12 Q3: early exit. Part (a) is the toy Gaussian cascade, part (b) an early-exit ResNet.

You write the functions marked TODO. The given code of the notebook lives in sibling modules:
``early_exit_models.py`` (the ResNets and ``MultiExitResNet``, which ``EarlyExitResNet`` extends),
``early_exit_training.py`` (configuration, batches, training loop, threshold sweep) and
``early_exit_data.py`` (the data sets).

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

import math
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from hw12 import early_exit_training
from hw12.early_exit_models import MultiExitResNet
from hw12.early_exit_training import Batches  # given; re-exported for the grader's GPU-tier test

__all__ = [
    "prob_final_nonpositive", "Q3A_II", "Q3A_III",
    "EarlyExitResNet", "early_exit_loss", "count_macs", "evaluate_early_exit",
    "min_threshold_beating", "train", "Batches",
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
# Part (b): the early-exit network
# ============================================================================================

class EarlyExitResNet(MultiExitResNet):
    """A ResNet with a classifier head after every stage (BranchyNet, Teerapittayanon et al.,
    2016). Exit i follows stage i; the last exit is the final head.

    The network itself is given (``early_exit_models.MultiExitResNet``: ``stem``, ``stages``,
    ``heads``, ``num_exits``, ``forward``, ``exits_up_to``, ``stage_counts``); you add ``predict``.

    forward: x (B, in_channels, H, W) -> list of num_exits logits tensors, each (B, num_classes).
    predict: see its docstring.
    """

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
# Training (given; the notebook and the grader's GPU-tier test call it from here)
# ============================================================================================

def train(model: nn.Module, loader, cfg=None) -> dict:
    """``early_exit_training.train`` with your ``early_exit_loss`` for early-exit models (given).

    Trains ``model`` in place; ``cfg`` is an EarlyExitConfig, a dict of its fields, or None.
    Returns {"loss": list of per-step losses, "steps": int, "seconds": float,
    "stopped_early": bool}.
    """
    return early_exit_training.train(model, loader, cfg, exit_loss=early_exit_loss)

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
    # BEGIN SOLUTION
    # HINT: Y - Y_k = X_{k+1} + X_{k+2} + ... is independent of Y_k. What are its mean and variance?
    # remaining variance: sum_{i>k} 2^-(i-1) = 2^(1-k), so P = Φ(-M / 2^((1-k)/2))
    if isinstance(M, torch.Tensor) or isinstance(k, torch.Tensor):
        device = M.device if isinstance(M, torch.Tensor) else k.device
        M_t = torch.as_tensor(M, device=device)
        dtype = M_t.dtype if M_t.is_floating_point() else torch.get_default_dtype()
        M_t = M_t.to(dtype)
        k_t = torch.as_tensor(k, device=device).to(dtype)
        std = torch.exp2((1.0 - k_t) / 2.0)
        return 0.5 * torch.special.erfc(M_t / (std * math.sqrt(2.0)))
    std = 2.0 ** ((1.0 - float(k)) / 2.0)
    return 0.5 * math.erfc(float(M) / (std * math.sqrt(2.0)))
    # END SOLUTION


# 3a-ii: P(Y <= 0 | Y_1 = 5) and 3a-iii: P(Y <= 0 | Y_40 = 0.00001), as Python floats.
Q3A_II = prob_final_nonpositive(5.0, 1)  # SOLUTION
Q3A_III = prob_final_nonpositive(1e-5, 40)  # SOLUTION


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
        # BEGIN SOLUTION
        # HINT: keep `active`, a LongTensor of the positions (in the batch) still running, and the
        # HINT: features h of only those examples; after each head, fill the outputs of the ones
        # HINT: that leave and shrink both `active` and h with a boolean mask.
        B = x.shape[0]
        predictions = torch.zeros(B, dtype=torch.long, device=x.device)
        exit_index = torch.zeros(B, dtype=torch.long, device=x.device)
        confidence = None
        active = torch.arange(B, device=x.device)          # (b,) batch positions still running
        h = self.stem(x)                                    # (B, widths[0], H, W)
        last = self.num_exits - 1
        for i in range(self.num_exits):
            h = self.stages[i](h)                           # (b, widths[i], h_i, w_i)
            probs = torch.softmax(self.heads[i](h), dim=-1) # (b, num_classes)
            conf, pred = probs.max(dim=-1)                  # (b,), (b,)
            if confidence is None:
                confidence = torch.zeros(B, dtype=conf.dtype, device=x.device)
            leave = torch.ones_like(conf, dtype=torch.bool) if i == last else conf >= threshold
            done = active[leave]                            # batch positions leaving here
            predictions[done] = pred[leave]
            exit_index[done] = i
            confidence[done] = conf[leave]
            active, h = active[~leave], h[~leave]
            if active.numel() == 0:
                break
        return predictions, exit_index, confidence
        # END SOLUTION


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
    # BEGIN SOLUTION
    # HINT: F.cross_entropy averages over the batch by default.
    if weights is None:
        weights = [1.0] * len(exit_logits)
    if len(weights) != len(exit_logits):
        raise ValueError(f"got {len(weights)} weights for {len(exit_logits)} exits")
    total = 0.0
    for w, logits in zip(weights, exit_logits):
        total = total + w * F.cross_entropy(logits, targets)
    return total
    # END SOLUTION


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
    # BEGIN SOLUTION
    # HINT: with FlopCounterMode(display=False) as counter: ...; counter.get_total_flops()
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(example_input)
    finally:
        for m, was_training in modes:
            m.training = was_training
    return counter.get_total_flops() / 2 / example_input.shape[0]
    # END SOLUTION


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
    # BEGIN SOLUTION
    # HINT: accumulate counts over batches (torch.bincount with minlength=num_exits helps);
    # HINT: exit i's cumulative MACs is count_macs(model.exits_up_to(i), one_batch).
    K = model.num_exits
    model_device = next(iter(model.parameters())).device
    mode_before = model.training
    model.eval()
    count = torch.zeros(K, dtype=torch.float64)
    conf_sum = torch.zeros(K, dtype=torch.float64)
    correct, n, example = 0, 0, None
    try:
        for x, y in loader:
            x, y = x.to(model_device), y.to(model_device)
            pred, exit_idx, conf = model.predict(x, threshold)
            correct += int((pred == y).sum())
            n += int(y.numel())
            exit_idx = exit_idx.cpu()
            count += torch.bincount(exit_idx, minlength=K).double()
            conf_sum.index_add_(0, exit_idx, conf.detach().cpu().double())
            if example is None:
                example = x[:1]
        exit_macs = [float(count_macs(model.exits_up_to(i), example)) for i in range(K)]
    finally:
        model.train(mode_before)
    fraction = count / n
    early = float(count[:-1].sum())
    return {
        "accuracy": correct / n,
        "exit_fraction": fraction.tolist(),
        "early_exit_rate": early / n,
        "confidence_early": float(conf_sum[:-1].sum()) / early if early else float("nan"),
        "confidence_full": float(conf_sum[-1] / count[-1]) if count[-1] else float("nan"),
        "exit_macs": exit_macs,
        "mac_ratio": float(sum(f * m for f, m in zip(fraction.tolist(), exit_macs)) / exit_macs[-1]),
        "num_examples": n,
    }
    # END SOLUTION


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
    # BEGIN SOLUTION
    thresholds, accuracies = list(thresholds), list(accuracies)
    if len(thresholds) != len(accuracies):
        raise ValueError("thresholds and accuracies must have the same length")
    best = None
    for t, acc in zip(thresholds, accuracies):
        if float(acc) > float(target_accuracy) and (best is None or float(t) < best):
            best = float(t)
    return best
    # END SOLUTION


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

"""Symbolic derivations behind the HW12 written answer key.

Each ``qN_*.py`` module holds small pure functions that build the sympy objects of one question,
a ``verify()`` that proves every closed form the key states (symbolically, or exactly on rational
sample points where the symbolic route is too slow), and a ``key_values()`` with the LaTeX the
key shows. ``render.render`` substitutes those values for the ``{{key:NAME}}`` placeholders of
``solutions/written/hw12_written.md``, so the key cannot disagree with the proofs.

Public API:
    key_values() -> dict[str, str]      NAME -> LaTeX formula or formatted number (math mode)
    verify_all() -> None                run every proof; AssertionError names the failing claim
    EXPERIMENT_KEYS                     names of the Q3(b) results filled in from the early-exit run
    experiment_values(results)          format a {name: float} results mapping for those names

Submodules are imported lazily so that ``render`` can be used without importing sympy.
"""
from __future__ import annotations

import importlib
from typing import Mapping

QUESTION_MODULES = ("q1_binary_diffusion", "q2_gaussian_diffusion", "q3_early_exit", "q4_policy_gradient")

# Q3(b) asks for numbers measured in the early-exit notebook. The key uses these placeholders;
# the build fills them from the reference run's results (see experiment_values) and key_values()
# deliberately does not provide them. Values are plain text (they stand outside math mode).
EXPERIMENT_KEYS = (
    "q3b_threshold",                 # confidence threshold used for parts ii-iv
    "q3b_baseline_accuracy",         # i   validation accuracy of the baseline ResNet
    "q3b_early_exit_accuracy",       # ii  validation accuracy of the early-exit model at q3b_threshold
    "q3b_early_exit_rate",           # iii fraction of examples answered before the last head
    "q3b_confidence_early",          # iii mean max-softmax confidence of the early exits
    "q3b_confidence_full",           # iii mean max-softmax confidence of examples reaching the last head
    "q3b_mac_ratio",                 # iv  early-exit MACs / full-model MACs at q3b_threshold
    "q3b_mac_spike_threshold",       # iv  threshold where the MAC ratio changes most between sweep points
    "q3b_small_accuracy",            # v   validation accuracy of the smaller ResNet
    "q3b_min_threshold",             # vi  smallest threshold whose early-exit accuracy beats the small net
    "q3b_min_threshold_accuracy",    # vi  early-exit accuracy at that threshold
    "q3b_min_threshold_mac_ratio",   # vi  MAC ratio at that threshold
)

# how each experiment value is shown: thresholds as decimals, every other value (a fraction in
# [0, 1]) as a percentage
THRESHOLD_KEYS = frozenset({"q3b_threshold", "q3b_mac_spike_threshold", "q3b_min_threshold"})

# what the 2023 handout expected from its CIFAR-10 GPU run (the offline dataset may differ)
HANDOUT_RANGES = {
    "q3b_baseline_accuracy": "55-65%",
    "q3b_early_exit_accuracy": "46-56%",
    "q3b_early_exit_rate": "60-80%",
    "q3b_confidence_early": "35-45%",
    "q3b_confidence_full": "50-60%",
    "q3b_mac_ratio": "50-60%",
    "q3b_small_accuracy": "45-55%",
    "q3b_min_threshold": "0.39-0.41",
    "q3b_min_threshold_mac_ratio": "MACs 20-30% below the full model",
}


def _modules():
    return [importlib.import_module(f".{name}", __name__) for name in QUESTION_MODULES]


def key_values() -> dict[str, str]:
    """NAME -> LaTeX (formula or formatted number) for every derived placeholder of the key."""
    values: dict[str, str] = {}
    for module in _modules():
        for name, value in module.key_values().items():
            if name in values:
                raise ValueError(f"key name {name!r} defined twice (second time in {module.__name__})")
            if name in EXPERIMENT_KEYS:
                raise ValueError(f"key name {name!r} is reserved for experiment results")
            values[name] = value
    return dict(values)


def verify_all() -> None:
    """Run every derivation check; raises AssertionError naming the first failing claim."""
    for module in _modules():
        try:
            module.verify()
        except AssertionError as err:
            raise AssertionError(f"[{module.__name__.rsplit('.', 1)[-1]}] {err}") from err


def experiment_values(results: Mapping[str, float]) -> dict[str, str]:
    """Format measured Q3(b) results for the key.

    ``results`` maps each name of EXPERIMENT_KEYS to a float: accuracies, rates, confidences and MAC
    ratios as fractions in [0, 1], thresholds as numbers in [0, 1]. Missing names raise KeyError
    listing them; extra names are ignored.
    """
    missing = [name for name in EXPERIMENT_KEYS if name not in results]
    if missing:
        raise KeyError(f"experiment results lack: {', '.join(missing)}")
    out = {}
    for name in EXPERIMENT_KEYS:
        value = float(results[name])
        out[name] = f"{value:.2f}" if name in THRESHOLD_KEYS else f"{100 * value:.1f}%"
    return out


__all__ = ["EXPERIMENT_KEYS", "HANDOUT_RANGES", "QUESTION_MODULES", "experiment_values",
           "key_values", "verify_all"]

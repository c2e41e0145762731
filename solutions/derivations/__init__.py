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
    SWEEP_KEYS                          names of the Q3(b)iv facts derived from that run's sweep
    experiment_values(results)          format a results mapping for all of those names

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
    "q3b_mac_spike_threshold",       # iv  upper end of the largest MAC-ratio change over the whole sweep
    "q3b_small_accuracy",            # v   validation accuracy of the smaller ResNet
    "q3b_min_threshold",             # vi  smallest threshold whose early-exit accuracy beats the small net
    "q3b_min_threshold_accuracy",    # vi  early-exit accuracy at that threshold
    "q3b_min_threshold_mac_ratio",   # vi  MAC ratio at that threshold
)

# Q3(b)iv facts computed from the recorded sweep and MAC counts (q3_early_exit.sweep_facts checks
# the key's explanation of them against the run). Plain text, like the experiment values.
SWEEP_KEYS = (
    "q3b_spike_from",                # lower end of the largest change over the whole sweep
    "q3b_mac_ratio_at_top",          # MAC ratio at the last threshold (1: early exit off)
    "q3b_sweep_bottom",              # first threshold of the sweep (0: every example at exit 0)
    "q3b_inner_jump_lo",             # largest change inside the sweep (end points skipped): from ...
    "q3b_inner_jump_hi",             # ... to this threshold
    "q3b_inner_jump_from",           # MAC ratio at q3b_inner_jump_lo
    "q3b_inner_jump_to",             # MAC ratio at q3b_inner_jump_hi
    "q3b_min_top_softmax",           # 1/K, the smallest possible top softmax probability
    "q3b_num_classes",               # K
    "q3b_mac_ratio_vs_baseline",     # early-exit MACs at q3b_threshold / the baseline ResNet's MACs
    "q3b_head_overhead",             # full pass of the early-exit model / baseline's MACs - 1
)

# how each experiment value is shown: thresholds as decimals, every other value (a fraction in
# [0, 1]) as a percentage
THRESHOLD_KEYS = frozenset({"q3b_threshold", "q3b_mac_spike_threshold", "q3b_min_threshold"})

# what the 2023 handout expected from its CIFAR-10 GPU run (the offline dataset may differ); the key
# shows them as {{key:q3b_handout_<name>}} (see handout_values)
HANDOUT_RANGES = {
    "q3b_baseline_accuracy": "55-65%",
    "q3b_early_exit_accuracy": "46-56%",
    "q3b_early_exit_rate": "60-80%",
    "q3b_confidence_early": "35-45%",
    "q3b_confidence_full": "50-60%",
    "q3b_mac_ratio": "50-60%",
    "q3b_small_accuracy": "45-55%",
    "q3b_min_threshold": "0.39-0.41",
    "q3b_min_threshold_mac_ratio": "20-30%",   # fewer MACs than the full model
}

# how the recorded reference run was made (from its "_run" entry), for the key's Q3(b) preamble
RUN_KEYS = ("q3b_run_train", "q3b_run_val", "q3b_run_epochs", "q3b_run_device")


def _modules():
    return [importlib.import_module(f".{name}", __name__) for name in QUESTION_MODULES]


def key_values() -> dict[str, str]:
    """NAME -> LaTeX (formula or formatted number) for every derived placeholder of the key."""
    values: dict[str, str] = {}
    for module in _modules():
        for name, value in module.key_values().items():
            if name in values:
                raise ValueError(f"key name {name!r} defined twice (second time in {module.__name__})")
            if name in EXPERIMENT_KEYS or name in SWEEP_KEYS or name in RUN_KEYS or \
                    name.startswith("q3b_handout_"):
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
    out.update(sweep_values(results))
    out.update(run_values(results))
    return out


def run_values(results: Mapping) -> dict[str, str]:
    """The size of the recorded run (training and validation images, epochs, device), as text."""
    if "_run" not in results:
        raise KeyError("experiment results lack: _run")
    run = results["_run"]
    return {"q3b_run_train": f"{int(run['overrides']['n_train']):,}",
            "q3b_run_val": f"{int(run['overrides']['n_val']):,}",
            "q3b_run_epochs": f"{int(run['overrides']['epochs'])}",
            "q3b_run_device": "a GPU" if str(run["device"]).startswith("cuda") else "a CPU"}


def handout_values() -> dict[str, str]:
    """The 2023 handout's expected CIFAR-10 ranges as text, named q3b_handout_<result>."""
    return {"q3b_handout_" + name.removeprefix("q3b_"): value.replace("-", "–")
            for name, value in HANDOUT_RANGES.items()}


def sweep_values(results: Mapping) -> dict[str, str]:
    """The Q3(b)iv facts of the key, from the run's ``sweep`` and ``macs`` (see SWEEP_KEYS).

    ``results["sweep"]`` holds the lists ``thresholds`` and ``mac_ratio``; ``results["macs"]`` the
    MACs per example of the ``baseline`` and of a full pass of the early-exit model
    (``early_exit_full``). Raises KeyError when they are missing and q3_early_exit.SweepError when
    the run contradicts the key's explanation.
    """
    from .q3_early_exit import NUM_CLASSES, sweep_facts

    missing = [name for name in ("sweep", "macs") if name not in results]
    if missing:
        raise KeyError(f"experiment results lack: {', '.join(missing)}")
    sweep, macs = results["sweep"], results["macs"]
    facts = sweep_facts(sweep["thresholds"], sweep["mac_ratio"])
    whole, inner = facts["whole"], facts["inner"]
    if abs(whole[1] - float(results["q3b_mac_spike_threshold"])) > 1e-12:
        raise KeyError("q3b_mac_spike_threshold does not match the recorded sweep")
    full, baseline = float(macs["early_exit_full"]), float(macs["baseline"])
    ratio = float(results["q3b_mac_ratio"])
    return {
        "q3b_spike_from": f"{whole[0]:.2f}",
        "q3b_mac_ratio_at_top": f"{facts['top_ratio']:.3f}",
        "q3b_sweep_bottom": f"{facts['bottom']:.2f}",
        "q3b_inner_jump_lo": f"{inner[0]:.2f}",
        "q3b_inner_jump_hi": f"{inner[1]:.2f}",
        "q3b_inner_jump_from": f"{inner[2]:.3f}",
        "q3b_inner_jump_to": f"{inner[3]:.3f}",
        "q3b_min_top_softmax": f"1/{NUM_CLASSES} = {facts['floor']:.2f}",
        "q3b_num_classes": f"{NUM_CLASSES}",
        "q3b_mac_ratio_vs_baseline": f"{100 * ratio * full / baseline:.1f}%",
        "q3b_head_overhead": f"{100 * (full / baseline - 1):.2g}%",
    }


__all__ = ["EXPERIMENT_KEYS", "HANDOUT_RANGES", "QUESTION_MODULES", "RUN_KEYS", "SWEEP_KEYS",
           "experiment_values", "handout_values", "key_values", "run_values", "sweep_values", "verify_all"]

"""Run the early-exit notebook headless and print the figures homework Q3(b) asks for.

    python benchmarks/early_exit_figures.py [--size quick|cpu|full] [--set JSON]
                                            [--package-dir solutions] [--record] [--timeout S]

Copies ``hw12/`` and ``hw12_early_exit.ipynb`` from the package directory to a temporary folder,
runs every cell and reads the ``early_exit_answers.json`` it writes. Sizes:

    quick  HW12_QUICK=1 (what a student runs on a laptop; a few minutes at most)
    cpu    the full-size models on 20,000 generated images for 6 epochs, no time cap (CPU reference)
    full   the notebook's defaults (50,000 images, 15 epochs; meant for a GPU)

``--set '{"epochs": 4}'`` overrides any EarlyExitConfig field on top (through the environment
variable HW12_EARLY_EXIT_CONFIG that ``EarlyExitConfig.from_env`` reads).

``--record`` copies the answers to ``solutions/early_exit_answers.json`` (the reference submission's
answers file; its module hash matches ``solutions/hw12/early_exit.py``) and writes
``solutions/written/q3b_reference_results.json``, from which ``python -m autograder build`` fills
the numbers of the Q3(b) key.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_run  # noqa: E402

SIZES = {
    "quick": ({"HW12_QUICK": "1"}, {}),
    "cpu": ({"HW12_QUICK": "0"},
            {"n_train": 20000, "n_val": 5000, "epochs": 6, "max_train_seconds": 0}),
    "full": ({"HW12_QUICK": "0"}, {}),
}


def run_notebook(package_dir: Path, env: dict, overrides: dict, timeout: int) -> dict:
    """Execute the notebook in a scratch folder; returns the answers file it wrote."""
    env = {**env, "HW12_EARLY_EXIT_CONFIG": json.dumps({"progress": False, **overrides})}
    return notebook_run.run_notebook(package_dir, "hw12_early_exit.ipynb", "early_exit_answers.json",
                                     env, timeout)


def _or_nan(value):
    """The 3b-vi entries are null when no threshold beats the smaller ResNet."""
    return float("nan") if value is None else value


def key_results(ans: dict) -> dict:
    """The answers mapped onto the names of derivations.EXPERIMENT_KEYS."""
    vi = ans["q3b_vi"]
    return {
        "q3b_threshold": ans["q3b_ii"]["threshold"],
        "q3b_baseline_accuracy": ans["q3b_i"]["baseline_accuracy"],
        "q3b_early_exit_accuracy": ans["q3b_ii"]["early_exit_accuracy"],
        "q3b_early_exit_rate": ans["q3b_iii"]["early_exit_rate"],
        "q3b_confidence_early": ans["q3b_iii"]["confidence_early"],
        "q3b_confidence_full": ans["q3b_iii"]["confidence_full"],
        "q3b_mac_ratio": ans["q3b_iv"]["mac_ratio"],
        "q3b_mac_spike_threshold": ans["q3b_iv"]["spike_threshold"],
        "q3b_small_accuracy": ans["q3b_v"]["small_accuracy"],
        "q3b_min_threshold": _or_nan(vi["min_threshold"]),
        "q3b_min_threshold_accuracy": _or_nan(vi["accuracy_at_min_threshold"]),
        "q3b_min_threshold_mac_ratio": _or_nan(vi["mac_ratio_at_min_threshold"]),
        # the sweep and the MAC counts, from which the build derives the key's Q3(b)iv facts
        "sweep": {"thresholds": ans["sweep"]["thresholds"], "mac_ratio": ans["sweep"]["mac_ratio"]},
        "macs": {"baseline": ans["macs"]["baseline"],
                 "early_exit_full": ans["macs"]["early_exit_cumulative"][-1]},
    }


def summarise(ans: dict, wall: float) -> str:
    iii, sec = ans["q3b_iii"], ans.get("train_seconds", {})
    cfg = ans["config"]
    vi = ans["q3b_vi"]
    lines = [
        f"run: {ans.get('device', '?')}, quick={ans['quick_mode']}, {cfg['data_source']}, "
        f"n_train={cfg['n_train']}, n_val={cfg['n_val']}, epochs={cfg['epochs']}, "
        f"widths={cfg['widths']}",
        f"i    baseline accuracy          {ans['q3b_i']['baseline_accuracy']:.3f}",
        f"ii   early-exit accuracy        {ans['q3b_ii']['early_exit_accuracy']:.3f} "
        f"(threshold {ans['q3b_ii']['threshold']})",
        f"iii  early-exit rate            {iii['early_exit_rate']:.3f} "
        f"(per exit {', '.join(f'{f:.3f}' for f in iii['exit_fraction'])})",
        f"     confidence early / full    {iii['confidence_early']:.3f} / {iii['confidence_full']:.3f}",
        f"iv   MAC ratio                  {ans['q3b_iv']['mac_ratio']:.3f} "
        f"(largest change at threshold {ans['q3b_iv']['spike_threshold']})",
        f"v    small-net accuracy         {ans['q3b_v']['small_accuracy']:.3f} "
        f"(MACs {ans['macs']['small'] / ans['macs']['baseline']:.1%} of the baseline)",
        f"vi   min threshold beating it   {vi['min_threshold']} "
        f"(accuracy {vi['accuracy_at_min_threshold']}, MAC ratio {vi['mac_ratio_at_min_threshold']})",
        "train seconds per model        " + ", ".join(f"{k} {v:.0f}" for k, v in sec.items()),
        f"notebook wall time             {wall:.0f} s",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="quick")
    ap.add_argument("--set", default="{}", help="JSON object of EarlyExitConfig overrides")
    ap.add_argument("--package-dir", default=str(ROOT / "solutions"))
    ap.add_argument("--record", action="store_true",
                    help="write solutions/early_exit_answers.json and the key's results file")
    ap.add_argument("--timeout", type=int, default=7200, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    env, overrides = SIZES[args.size]
    overrides = {**overrides, **json.loads(args.set)}
    t0 = time.perf_counter()
    ans = run_notebook(Path(args.package_dir), env, overrides, args.timeout)
    wall = time.perf_counter() - t0
    print(summarise(ans, wall))
    if args.record:
        (ROOT / "solutions" / "early_exit_answers.json").write_text(json.dumps(ans, indent=2) + "\n")
        results = {**key_results(ans), "_run": {"size": args.size, "overrides": overrides,
                                                "device": ans.get("device"), "wall_s": round(wall)}}
        (ROOT / "solutions" / "written" / "q3b_reference_results.json").write_text(
            json.dumps(results, indent=2) + "\n")
        print("recorded solutions/early_exit_answers.json and solutions/written/q3b_reference_results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

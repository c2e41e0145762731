"""Run the early-exit notebook headless and print the figures homework Q3(b) asks for.

    python benchmarks/early_exit_figures.py [--size quick|cpu|full] [--set JSON]
                                            [--package-dir solutions] [--timeout S]

Copies ``hw12/`` and ``hw12_early_exit.ipynb`` from the package directory to a temporary folder,
runs every cell and reads the ``early_exit_answers.json`` it writes. Sizes:

    quick  HW12_QUICK=1 (what a student runs on a laptop; a few minutes at most)
    cpu    the full-size models on 20,000 generated images for 6 epochs, no time cap (CPU reference)
    full   the notebook's defaults (50,000 images, 15 epochs; meant for a GPU)

``--set '{"epochs": 4}'`` overrides any EarlyExitConfig field on top (through the environment
variable HW12_EARLY_EXIT_CONFIG that ``EarlyExitConfig.from_env`` reads).

The script only measures. ``python -m autograder record --part early_exit`` runs the ``cpu`` size
the same way (``autograder/build/record.py``) and writes the reference answers file and the key's Q3(b)
numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograder.build.record import EARLY_EXIT_SIZE, run_early_exit  # noqa: E402

SIZES = {
    "quick": ({"HW12_QUICK": "1"}, {}),
    "cpu": EARLY_EXIT_SIZE,  # the recorded reference size
    "full": ({"HW12_QUICK": "0"}, {}),
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
    ap.add_argument("--timeout", type=int, default=7200, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    env, overrides = SIZES[args.size]
    overrides = {**overrides, **json.loads(args.set)}
    t0 = time.perf_counter()
    ans = run_early_exit(Path(args.package_dir), env, overrides, args.timeout)
    wall = time.perf_counter() - t0
    print(summarise(ans, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())

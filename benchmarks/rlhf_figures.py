"""Run the RLHF notebook headless and print its headline figures.

    python benchmarks/rlhf_figures.py [--full] [--package-dir solutions] [--threads N]
                                      [--timeout SECONDS]

Copies ``hw12/`` and ``hw12_rlhf.ipynb`` from the package directory to a temporary folder, runs
every cell (``HW12_QUICK=1`` unless ``--full``), and reads the ``submission_log.json`` it writes.
Prints SFT ROUGE-L, the reward model's held-out pairwise accuracy, proxy reward and hidden true
quality before and after RL (and for the kl_coef = 0 run), the final KL and the wall time.
The script only measures; ``python -m autograder record --part rlhf`` runs the quick mode the same
way (``autograder/build/record.py``) and writes the reference log ``solutions/submission_log.json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograder.build.record import run_rlhf  # noqa: E402


def run_notebook(package_dir: Path, quick: bool, threads: int | None, timeout: int) -> dict:
    env = {"HW12_QUICK": "1" if quick else "0"}
    if threads:
        env["HW12_THREADS"] = str(threads)
    return run_rlhf(package_dir, env, timeout)


def summarise(log: dict, wall: float) -> str:
    fe = log["final_evaluation"]
    rm = log["reward_model"]
    lines = [
        f"mode                       : {'quick' if log['quick'] else 'full'} "
        f"({log['environment']['device']}, torch {log['environment']['torch']})",
        f"SFT ROUGE-L (held-out)     : {fe['sft']['rouge_l']:.3f}",
        f"reward model accuracy      : {rm['test_accuracy']:.3f} "
        f"({rm['test_correct']}/{rm['test_pairs']} held-out pairs)",
        "                             proxy reward   true quality   ROUGE-L   facts   KL",
    ]
    for name in ("sft", "rl", "hacking"):
        e = fe[name]
        label = {"sft": "before RL (SFT)", "rl": f"after RL (kl_coef={log['rl']['kl_coef']:g})",
                 "hacking": "after RL (kl_coef=0)"}[name]
        lines.append(f"{label:27s}: {e['proxy_reward']:12.3f} {e['true_quality']:14.3f} "
                     f"{e['rouge_l']:9.3f} {e['facts_present']:7.3f} {e['kl']:6.3f}")
    lines += [f"true-quality gain of RL    : {fe['true_quality_gain']:+.3f}",
              f"final KL (kl_coef run)     : {fe['rl']['kl']:.3f}",
              f"notebook wall time         : {log['wall_time_s']:.0f} s (whole run {wall:.0f} s)"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="default sizes instead of HW12_QUICK=1")
    ap.add_argument("--package-dir", default=str(ROOT / "solutions"))
    ap.add_argument("--threads", type=int, default=None, help="torch threads in the notebook")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    t0 = time.time()
    log = run_notebook(Path(args.package_dir), not args.full, args.threads, args.timeout)
    print(summarise(log, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

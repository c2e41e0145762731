"""How far apart two replays of the same code come on different machines, threads and libraries.

    python benchmarks/replay_tolerance.py [--python PYTHON ...] [--device cuda]

The replay (hw12/replay.py) that ties a notebook's log to the submitted code is recomputed by the
grader and compared with the log within ``replay.TOLERANCE`` (relative). A log is written on the
student's machine (any thread count, torch version, Python version, with or without a GPU) and
checked on Gradescope (torch 2.13.0 CPU, half a core). This script records the reference
solutions' replay of both parts in a fresh interpreter for each setting: each Python given (default:
the project's three environments), with 1 torch thread, 2 threads and torch's default; with
``--device cuda`` also after CUDA work on the GPU (the replay itself always runs on the CPU in
float64). It prints, against the first setting, the largest relative difference of any replayed
number, and the margin to the tolerance. The edit the check must catch (one loss changed in its
fourth significant digit) is a relative change of at least 1e-4 (see tests/solutions/test_replay.py).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECORD = """
import json, sys, torch
threads, device = sys.argv[1], sys.argv[2]
if threads != "default":
    torch.set_num_threads(int(threads))
if device == "cuda":  # the GPU has trained something first, as in a notebook on a GPU machine
    x = torch.randn(512, 512, device="cuda")
    (x @ x).sum().item()
from hw12 import early_exit, replay, rlhf
print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__,
                  "threads": torch.get_num_threads(),
                  "rlhf": replay.rlhf_replay(rlhf, 0), "early_exit": replay.early_exit_replay(early_exit, 0)}))
"""


def numbers(obj, path=""):
    """(path, float) for every number of a replay record."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from numbers(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path, float(obj)


def largest_difference(a: dict, b: dict) -> tuple[float, str]:
    """The largest relative difference between two replays (as replay._differs scales it)."""
    worst, where = 0.0, ""
    for (path, x), (_, y) in zip(numbers(a), numbers(b)):
        d = abs(x - y) / max(abs(y), 1e-3) if math.isfinite(x) and math.isfinite(y) else 0.0
        if d > worst:
            worst, where = d, path
    return worst, where


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = [str(REPO / v / "bin" / "python") for v in (".venv", ".venv-cpu", ".venv-313")]
    ap.add_argument("--python", nargs="+", default=[p for p in default if Path(p).exists()])
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "solutions"))
    from hw12.replay import TOLERANCE

    runs = []
    for python in args.python:
        for threads in ("1", "2", "default"):
            out = subprocess.run([python, "-c", RECORD, threads, args.device], cwd=REPO / "solutions",
                                 capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    first = runs[0]
    worst_all = 0.0
    print(f"tolerance {TOLERANCE:g} (relative); against python {first['python']}, torch "
          f"{first['torch']}, {first['threads']} thread(s):")
    for run in runs:
        worst, where = max(largest_difference(run[p], first[p]) for p in ("rlhf", "early_exit"))
        worst_all = max(worst_all, worst)
        print(f"  python {run['python']:8s} torch {run['torch']:14s} threads {run['threads']:2d}  "
              f"largest relative difference {worst:.2e} {where}")
    margin = TOLERANCE / worst_all if worst_all else math.inf
    print(f"largest difference {worst_all:.2e}; tolerance / largest = {margin:.3g}; "
          f"a fourth-digit edit (>= 1e-4) / tolerance = {1e-4 / TOLERANCE:.0f}")
    return 0 if worst_all <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())

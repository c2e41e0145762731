"""Measure what grading one part costs: CPU time, wall time on one core, peak memory summed over
every process of the run (supervisor, runner, student worker).

    python benchmarks/grading_budget.py --part diffusion [--python .venv-cpu/bin/python]

The grade runs as a child process pinned to one core (taskset), as on Gradescope's half core.
CPU time is the children's user+sys time from getrusage (all waited-for descendants). Memory is
sampled every 20 ms over the whole process tree: the sum of resident sizes (RSS, which counts shared
library pages once per process, so it over-estimates) and the sum of proportional set sizes (PSS,
shared pages split between the processes that map them, closest to what a memory cgroup charges).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """(sum RSS, sum PSS, process count) of ``proc`` and its descendants, in bytes."""
    rss = pss = n = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        n += 1
    return rss, pss, n


def measure(python: str, part: str, submission: Path, core: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        cmd = [python, "-m", "autograder", "grade", str(submission), "--part", part,
               "--output", str(out), "--quiet"]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", str(core), *cmd]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ps = psutil.Process(child.pid)
        peak_rss = peak_pss = peak_n = 0
        while child.poll() is None:
            rss, pss, n = tree_memory(ps)
            peak_rss, peak_pss, peak_n = max(peak_rss, rss), max(peak_pss, pss), max(peak_n, n)
            time.sleep(0.02)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        log = child.stdout.read().decode()
        if child.returncode != 0:
            raise SystemExit(f"grading failed:\n{log}")
        import json

        score = json.loads(out.read_text())["score"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"part": part, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak_rss / 2**20,
            "peak_pss_mb": peak_pss / 2**20, "processes": peak_n, "score": score}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", action="append", help="part(s) to measure (default: all)")
    ap.add_argument("--python", default=str(REPO / ".venv-cpu" / "bin" / "python"),
                    help="interpreter of the grading environment (default: the CPU-only venv)")
    ap.add_argument("--submission", default=str(REPO / "solutions"))
    ap.add_argument("--core", type=int, default=0)
    args = ap.parse_args()
    import yaml

    parts = args.part or list(yaml.safe_load((REPO / "grading_config.yaml").read_text())["parts"])
    torch_v = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    print(f"python: {args.python} (torch {torch_v}); one core; {os.cpu_count()} cores on the machine")
    print("| part | CPU time (s) | wall, 1 core (s) | peak RSS sum (MB) | peak PSS sum (MB) | processes | score |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for part in parts:
        r = measure(args.python, part, Path(args.submission), args.core)
        print(f"| {part} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | "
              f"{r['peak_pss_mb']:.0f} | {r['processes']} | {r['score']:g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

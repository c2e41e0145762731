"""Throughput of class-scale grading: CPU-tier gradings per core-minute for one part, one submission
at a time and with ``--jobs 2``, and how much of one grading is fixed start-up cost.

    python benchmarks/batch_throughput.py [--part diffusion] [--submissions 6]

Builds a Gradescope-shaped export (reference, untouched stubs, mutants from
tests/mutants/<part>/<question>/, cycled to the requested count), then grades it twice through ``python -m autograder grade EXPORT``
with ``--force``: ``--jobs 1`` pinned to one core and ``--jobs 2`` pinned to two (taskset).
Gradings per core-minute = submissions / (wall minutes x cores given); per CPU-minute =
submissions / CPU minutes used (less sensitive to other load on the machine). CPU time is the children's
user+sys time (getrusage over every waited-for descendant: batch, supervisors, runners, workers).

The fixed cost of one grading is its ``execution_time`` minus the time its test cases ran
(``extra_data.seconds`` of every test in results.json): starting the trusted runner (Python,
torch, the test files) and the sandboxed worker (Python, torch, the student's modules). It is what
a batch could pay once rather than per submission; the script also times ``import torch`` alone.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_export(dest: Path, part: str, n: int) -> None:
    from autograder.checks.mutants import default_bank, load_bank
    from autograder.grading.config import load_config
    from autograder.grading.supervisor import Layout

    cfg, _ = load_config(Layout(REPO).config, Layout(REPO).tests)
    modules = cfg.parts[part].modules
    mutants = [v for v in load_bank(default_bank(REPO), [part]) if v.kind == "mutant"]
    dest.mkdir(parents=True)
    meta = []
    for i in range(n):
        sub = dest / f"submission_{i + 1}"
        kind = i % 3
        src = REPO / ("assignment" if kind == 1 else "solutions") / "hw12"
        (sub / "hw12").mkdir(parents=True)
        for m in modules:
            shutil.copyfile(src / f"{m}.py", sub / "hw12" / f"{m}.py")
        for f in cfg.parts[part].data_files:
            if (REPO / "solutions" / f).exists():
                shutil.copyfile(REPO / "solutions" / f, sub / f)
        if kind == 2 and mutants:
            v = mutants[(i // 3) % len(mutants)]
            target = sub / "hw12" / f"{v.module}.py"
            target.write_text(target.read_text() + "\n" + v.code)
        meta.append(f"submission_{i + 1}:\n  :submitters:\n  - :name: Student {i + 1}\n"
                    f"    :sid: '{3031000000 + i}'\n    :email: s{i + 1}@example.edu\n")
    (dest / "submission_metadata.yml").write_text("".join(meta))


def run(export: Path, out: Path, part: str, jobs: int, cores: str) -> dict:
    cmd = [sys.executable, "-m", "autograder", "grade", str(export), "--part", part,
           "--output", str(out), "--jobs", str(jobs), "--force", "--quiet"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", cores, *cmd]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    fixed, tests, total = [], [], []
    for res in sorted(out.glob("*/results.json")):
        data = json.loads(res.read_text())
        in_tests = sum(t.get("extra_data", {}).get("seconds", 0.0) for t in data["tests"])
        total.append(data["execution_time"])
        tests.append(in_tests)
        fixed.append(data["execution_time"] - in_tests)
    n = len(total)
    return {"jobs": jobs, "cores": len(cores.split(",")), "submissions": n, "wall_s": wall, "load": load,
            "cpu_s": cpu, "per_core_minute": n / (wall / 60 * len(cores.split(","))),
            "per_minute": n / (wall / 60), "grading_s": sum(total) / n, "tests_s": sum(tests) / n,
            "fixed_s": sum(fixed) / n}


def import_torch_s() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="diffusion")
    ap.add_argument("--submissions", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw12-throughput-") as tmp:
        export = Path(tmp) / "export"
        build_export(export, args.part, args.submissions)
        rows = [run(export, Path(tmp) / "serial", args.part, 1, "0"),
                run(export, Path(tmp) / "jobs2", args.part, 2, "0,1")]
    torch_s = import_torch_s()
    print(f"part {args.part}, {args.submissions} submissions, {os.cpu_count()} cores")
    print("jobs cores  load  wall(s)  CPU(s)  per wall-min  per core-min  per CPU-min  grading(s)  "
          "in tests(s)  fixed(s)")
    for r in rows:
        print(f"{r['jobs']:4d} {r['cores']:5d} {r['load']:5.1f} {r['wall_s']:8.1f} {r['cpu_s']:7.1f} "
              f"{r['per_minute']:13.2f} {r['per_core_minute']:13.2f} "
              f"{r['submissions'] / (r['cpu_s'] / 60):12.2f} {r['grading_s']:11.1f} "
              f"{r['tests_s']:12.1f} {r['fixed_s']:9.1f}")
    speedup = rows[1]["per_minute"] / rows[0]["per_minute"]
    print(f"speed-up of --jobs 2 (gradings per wall-minute): {speedup:.2f}x")
    print(f"fixed share of one grading (serial): {rows[0]['fixed_s'] / rows[0]['grading_s']:.0%}; "
          f"`import torch` alone: {torch_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

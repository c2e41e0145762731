"""Figures of the simulated Gradescope run (autograder/checks/simulate.py), per part, for BENCHMARKS.md.

    python benchmarks/gradescope_sim.py [--part P ...] [--memory-mb 768] [--cpus 0.5] [--repeat N]
                                        [--namespaces auto|off]

For each part: builds the zip, runs the reference submission through it as Gradescope does (root,
sandbox user, cgroup memory limit and CPU quota) and prints wall time, the cgroup's peak memory, OOM
kills, the score, and the slowest test case against its time limit (the margin, which must be at
least 5x: limits are backstops). With ``--repeat N`` it grades N times and reports whether every
test's score was identical each time. ``--show QUESTION`` adds the seconds of each of its cases
(wall time under the CPU quota, so CPU time is at most ``cpus`` times it).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.build.zipgen import build_zip  # noqa: E402
from autograder.checks.simulate import simulate  # noqa: E402
from autograder.grading.config import load_config  # noqa: E402
from autograder.grading.supervisor import Layout  # noqa: E402


def upload_of(part: str, cfg_raw: dict, dest: Path) -> Path:
    v = cfg_raw["parts"][part]
    for rel in [f"hw12/{m}.py" for m in v["modules"]] + list(v.get("data_files", [])):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes((REPO / "solutions" / rel).read_bytes())
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", action="append")
    ap.add_argument("--memory-mb", type=int, default=768)
    ap.add_argument("--cpus", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--python-env", default=None)
    ap.add_argument("--show", action="append", default=[], metavar="QUESTION",
                    help="also print the seconds of every case of QUESTION (repeatable; e.g. "
                    "q4_log, whose first case replays the notebook's training)")
    ap.add_argument("--namespaces", choices=["auto", "off"], default="auto",
                    help="off: the grader's fallback where the container refuses namespaces")
    args = ap.parse_args()
    layout = Layout(REPO)
    cfg, cases = load_config(layout.config, layout.tests)
    raw = yaml.safe_load(layout.config.read_text())
    limits = {c.id: c.time_limit_s for part in cases.values() for c in part}
    print(f"limits: {args.memory_mb} MB, {args.cpus} CPUs; {args.repeat} run(s) per part; "
          f"namespaces {args.namespaces}")
    print("| part | score | wall (s) | peak cgroup memory (MB) | OOM kills | slowest case (s) | its limit (s) | margin |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for part in args.part or list(cfg.parts):
        with tempfile.TemporaryDirectory() as tmp:
            zip_path = build_zip(REPO, part, cfg, raw, Path(tmp) / f"{part}.zip")
            upload = upload_of(part, raw, Path(tmp) / "upload")
            seen = []
            for _ in range(args.repeat):
                sim = simulate(part, upload, zip_path, memory_mb=args.memory_mb, cpus=args.cpus,
                               python_env=Path(args.python_env) if args.python_env else None,
                               namespaces=args.namespaces)
                if sim.results is None:
                    print(f"| {part} | no results.json: {sim.results_error} |")
                    break
                scored = [t for t in sim.results["tests"] if "max_score" in t]
                seen.append([(t["name"], t["score"]) for t in scored])
                slow = max(scored, key=lambda t: t["extra_data"]["seconds"])
                case_id = next(c.id for c in cases[part]
                               if slow["name"].startswith(c.question)
                               and c.function.removeprefix("test_") in slow["name"])
                secs = slow["extra_data"]["seconds"]
                print(f"| {part} | {sim.score:g}/{sim.max_score:g} | {sim.wall_s:.1f} | "
                      f"{sim.peak_memory_mb:.0f} | {sim.oom_kills} | {secs:.2f} ({case_id}) | "
                      f"{limits[case_id]:.0f} | {limits[case_id] / max(secs, 1e-3):.0f}x |", flush=True)
                for t in scored:
                    if any(t["name"].lower().startswith(q.lower() + " ") for q in args.show):
                        print(f"|   {t['name']} | {t['extra_data']['seconds']:.2f} s |")
            if args.repeat > 1:
                same = all(s == seen[0] for s in seen)
                print(f"{part}: {len(seen)} gradings, per-test scores identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

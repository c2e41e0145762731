"""Run otter-format test files in this process against a package directory (authoring aid, no sandbox).

    python -m autograder.localrun PART [--package-dir solutions] [--question q1a] [-v]

Grading never uses this; it is for writing tests quickly against the reference solutions.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_cases(path: Path):
    """Execute one test file and return its otter ``test_case`` objects in file order."""
    from otter.test_files import test_case

    env: dict = {"__file__": str(path), "__name__": f"autograder_tests_{path.stem}"}
    exec(compile(path.read_text(), str(path), "exec"), env)
    return [v for v in env.values() if isinstance(v, test_case)]


class LocalSubmission:
    """Read-only view of data files in a submission directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def read_text(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def read_json(self, rel: str):
        import json

        return json.loads(self.read_text(rel))


class _LazyModules(dict):
    def __init__(self, package_dir: Path, device: str):
        super().__init__()
        self.package_dir, self.device = package_dir, device

    def get(self, key, default=None):
        if key == "submission":
            return LocalSubmission(self.package_dir)
        if key == "device":
            return self.device
        try:
            return importlib.import_module(f"hw12.{key}")
        except ModuleNotFoundError:
            return default


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part")
    ap.add_argument("--package-dir", default=str(ROOT / "solutions"))
    ap.add_argument("--question", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    pkg = Path(args.package_dir).resolve()
    sys.path.insert(0, str(pkg))
    env = _LazyModules(pkg, args.device)
    files = sorted((ROOT / "autograder" / "tests" / args.part).glob("*/*.py"))
    failed = 0
    for f in files:
        if args.question and f.stem != args.question:
            continue
        for case in load_cases(f):
            import random

            import numpy as np
            import torch

            torch.manual_seed(0), np.random.seed(0), random.seed(0)
            t0 = time.perf_counter()
            params = inspect.signature(case.test_func).parameters
            try:
                case.test_func(**{p: env.get(p) for p in params})
                status = "ok"
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                status = f"FAIL {type(e).__name__}: {e}"
                if args.verbose:
                    traceback.print_exc()
            print(f"{f.parent.name:6s} {f.stem:8s} {case.test_func.__name__:50s} "
                  f"{time.perf_counter() - t0:6.2f}s {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

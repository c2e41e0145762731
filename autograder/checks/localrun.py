"""Run a part's otter test files in this process against a package folder (authoring aid, no sandbox).

    python -m autograder.checks.localrun PART [--package-dir solutions] [--question q1a] [-v]

Grading never uses this; it is for writing tests quickly against the reference solutions. Cases are
loaded, seeded and given their parameters as the grader's runner does (autograder/grading/testfiles.py).
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from autograder import ROOT
from autograder.grading.config import load_config
from autograder.grading.testfiles import load_test_cases, run_case


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
    _, cases = load_config(ROOT / "grading_config.yaml", ROOT / "autograder" / "tests")
    failed = 0
    loaded: dict = {}
    for case in cases[args.part]:
        if args.question and case.question != args.question:
            continue
        if case.file not in loaded:
            loaded[case.file] = {tc.test_func.__name__: tc for tc in load_test_cases(case.file)}
        t0 = time.perf_counter()
        try:
            run_case(loaded[case.file][case.function], case.seed, pkg, args.device)
            status = "ok"
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            status = f"FAIL {type(e).__name__}: {e}"
            if args.verbose:
                traceback.print_exc()
        print(f"{case.id:60s} {time.perf_counter() - t0:6.2f}s {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

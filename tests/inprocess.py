"""In-process grading for the project's own tests: run a part's otter test cases against a module
built from source text, without the sandbox (like ``autograder.localrun``, but for variants).

The sandboxed path is covered by validate and test_zip; these helpers make per-mutant checks cheap.
"""
from __future__ import annotations

import inspect
import json
import random
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOL = ROOT / "solutions"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# the given code (hw12.fingerprint and the like) is importable, as in the grader's runner; from
# solutions/, the package the project's tests import everywhere (the given files are the same)
if str(SOL) not in sys.path:
    sys.path.append(str(SOL))


def cases(part: str, question: str) -> list:
    """The otter test_case objects of one question, public file first."""
    from autograder.localrun import load_cases

    tests = ROOT / "autograder" / "tests" / part
    return [c for f in sorted(tests.glob(f"*/{question}.py"), reverse=True) for c in load_cases(f)]


def module_from_source(source: str, module: str) -> types.ModuleType:
    """A module named hw12_<module>_under_test executed from ``source`` (its __file__ points at
    solutions/hw12/<module>.py, so relative data paths resolve as for the reference)."""
    name = f"hw12_{module}_under_test"
    mod = types.ModuleType(name)
    mod.__file__ = str(SOL / "hw12" / f"{module}.py")
    sys.modules[name] = mod  # dataclasses look their module up here
    exec(compile(source, mod.__file__, "exec"), mod.__dict__)
    return mod


def reference_source(module: str) -> str:
    return (SOL / "hw12" / f"{module}.py").read_text()


def variant_source(path: Path):
    """(variant, source) of a mutant-bank file: the parsed file (autograder.mutants) and its code
    appended to the reference module it patches."""
    from autograder.mutants import load_variant

    variant = load_variant(path)
    return variant, variant.applied_to(reference_source(variant.module))


class Submission:
    """The ``submission`` fixture: read-only data files given as {relative path: text}."""

    def __init__(self, files: dict):
        self.files = dict(files)

    def exists(self, rel):
        return rel in self.files

    def read_text(self, rel):
        return self.files[rel]

    def read_json(self, rel):
        return json.loads(self.files[rel])


def grade(part: str, module_name: str, module, submission, questions, messages=None) -> dict:
    """{question: [names of failing cases]} for ``questions`` (seeded like the grader); when a dict
    is passed as ``messages`` it receives {case name: the failure's message}."""
    import numpy as np
    import torch

    failed: dict = {}
    for q in questions:
        for case in cases(part, q):
            torch.manual_seed(0), np.random.seed(0), random.seed(0)
            params = inspect.signature(case.test_func).parameters
            env = {module_name: module, "submission": submission, "device": "cpu"}
            try:
                case.test_func(**{p: env[p] for p in params})
            except Exception as e:  # noqa: BLE001 - a failing case is data here
                failed.setdefault(q, []).append(case.test_func.__name__)
                if messages is not None:
                    messages[case.test_func.__name__] = f"{type(e).__name__}: {e}"
    return failed


def stub_source(text: str, module: str) -> str:
    """The student stub of a reference module: the release's own transformation."""
    from autograder.release import strip_code

    return strip_code(text, f"hw12/{module}.py")

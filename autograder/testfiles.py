"""Otter test files, run in this process: loading their cases, seeding, the submitted files.

One mechanism for everyone who runs a test file: the grader's runner (against the sandboxed student
code), ``python -m autograder.localrun`` and the project's tests (against a module in this process),
and the student release's checks (``build`` copies this file to ``assignment/tests/otter_cases.py``,
with each public case's seed in ``case_seeds.json``). Standard library only; numpy and torch are
imported when seeding.

A test file defines functions decorated with ``otter.test_files.test_case``; their parameters are
filled by name: a module of the ``hw12`` package, ``submission`` (a ``SubmissionFiles``) or
``device``. Case ids are ``<question>/<public|hidden>/<function>``.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import random
import sys
import types
from pathlib import Path


class test_case:  # noqa: N801 - same name and signature as otter.test_files.test_case
    """Drop-in for ``otter.test_files.test_case`` (otter itself pulls in pandas)."""

    def __init__(self, name=None, points=None, hidden=False, success_message=None,
                 failure_message=None):
        self.name, self.points, self.hidden = name, points, hidden
        self.success_message, self.failure_message = success_message, failure_message
        self.test_func = None

    def __call__(self, func):
        self.test_func = func
        return self


def install_otter_shim() -> None:
    """Make ``from otter.test_files import test_case`` resolve to the class above, unless otter's own
    module is already imported (as in a notebook using otter; both classes have the same
    attributes). Importing otter itself takes seconds."""
    if "otter.test_files" in sys.modules:
        return
    otter = sys.modules.setdefault("otter", types.ModuleType("otter"))
    shim = types.ModuleType("otter.test_files")
    shim.test_case = test_case
    otter.test_files = shim
    sys.modules["otter.test_files"] = shim


def load_test_cases(path: Path) -> list:
    """Execute one test file; its ``test_case`` objects in file order."""
    install_otter_shim()
    from otter.test_files import test_case as otter_test_case

    path = Path(path)
    env = {"__name__": f"hw12_tests_{path.parent.name}_{path.stem}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), env)
    return [v for v in env.values() if isinstance(v, (test_case, otter_test_case))]


def case_id(question: str, visibility: str, function: str) -> str:
    return f"{question}/{visibility}/{function}"


def case_seed(base: int, case: str) -> int:
    """The seed of the case with id ``case`` under the base seed ``base``."""
    digest = hashlib.sha256(case.encode()).digest()
    return (base + int.from_bytes(digest[:4], "big")) % 2**31


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators before a case."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_key(file_name: str, function: str) -> str:
    """The key of a public case in the release's ``case_seeds.json``: ``"<file name>::<function>"``."""
    return f"{file_name}::{function}"


def seed_of(seeds: dict[str, int], file_name: str, function: str) -> int:
    """A public case's seed from ``case_seeds.json``; 0 for a file the student added."""
    return seeds.get(seed_key(file_name, function), 0)


def run_case(case, seed: int, root: Path, device: str = "cpu", module=None) -> None:
    """Run one case in this process, as the release's checks do: seed it with ``seed`` (the
    grader's seed of the case), then call its function with each parameter filled by name:
    ``device``, ``submission`` (the files under ``root``) or the module ``hw12.<name>`` (looked up
    with ``module(name)``, by default a plain import). Raises what the case raises."""
    module = module or (lambda name: importlib.import_module(f"hw12.{name}"))
    seed_everything(seed)
    fixed = {"device": device, "submission": SubmissionFiles(root)}
    case.test_func(**{name: fixed[name] if name in fixed else module(name)
                      for name in inspect.signature(case.test_func).parameters})


def student_message(exc: BaseException) -> str:
    """What a failed check tells the student, in one place for every front end."""
    if isinstance(exc, NotImplementedError):
        text = str(exc)
        return text if "not implemented yet" in text else f"not implemented yet: {text}"
    if isinstance(exc, AssertionError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class SubmissionError(ValueError):
    """A submitted data file is unusable (too large, not JSON, outside the submission)."""


class SubmissionFiles:
    """Read-only access to the data files next to the code (answers, logs)."""

    MAX_BYTES = 32 * 1024 * 1024

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if self.root.resolve() not in p.parents:
            raise SubmissionError(f"{rel} is outside the submission")
        return p

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def read_bytes(self, rel: str) -> bytes:
        p = self._path(rel)
        if not p.is_file():
            raise FileNotFoundError(f"{rel} is not there yet: run the notebook that writes it, and "
                                    "upload it with the code (python -m hw12.export writes the "
                                    "upload)")
        if p.stat().st_size > self.MAX_BYTES:
            raise SubmissionError(f"{rel} is larger than {self.MAX_BYTES // 2**20} MB")
        return p.read_bytes()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8", errors="replace")

    def read_json(self, rel: str):
        try:
            return json.loads(self.read_text(rel))
        except json.JSONDecodeError as e:
            raise SubmissionError(f"{rel} is not valid JSON (line {e.lineno}: {e.msg}); "
                                  "re-run the notebook to write it again") from None

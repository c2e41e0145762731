"""Otter test files, run in this process: loading their cases, seeding, the submitted files.

One mechanism for everyone who runs a test file: the grader's runner (against the sandboxed student
code), ``python -m autograder.localrun`` and the project's tests (against a module in this process),
and the student release's checks (``build`` copies this file to ``assignment/tests/otter_cases.py``,
with each public case's seed in ``case_seeds.json``). Standard library only; numpy and torch are
imported when seeding.

A test file defines functions decorated with ``otter.test_files.test_case``; their parameters are
filled by name: a module of the ``hw12`` package, ``submission`` (a ``SubmissionFiles``),
``device`` or ``substituted`` (see ``substituted`` below; the grader's runner passes its sandboxed
version). Case ids are ``<question>/<public|hidden>/<function>``.
"""
from __future__ import annotations

import hashlib
import json
import random
import sys
import types
from contextlib import contextmanager
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


_MISSING = object()  # a module attribute the student did not define


def stand_in(fn):
    """``fn`` as a function: a dict is a table {arguments: value} of a few exact calls, looked up
    element by element along a tensor argument (giving a tensor of the default floating dtype with
    its shape and device); arguments outside the table raise KeyError."""
    if not isinstance(fn, dict):
        return fn

    def lookup(*args, **kwargs):
        import torch

        args = args + tuple(kwargs.values())
        at = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
        if not at:
            return fn[args]
        (i,) = at  # one tensor argument
        values = [fn[args[:i] + (v,) + args[i + 1:]] for v in args[i].reshape(-1).tolist()]
        return torch.tensor(values, device=args[i].device).reshape(args[i].shape)

    return lookup


@contextmanager
def substituted(module, name: str, fn):
    """Within the block, ``module.name`` is ``fn`` (a function, or a table: see ``stand_in``): a
    test of one question calls the student's function with a correct callee in place of the
    student's own (each question graded on its own). ``name`` may be ``Class.method``: ``fn`` then
    gets the instance first (in the grader: an object with the instance's ``training`` flag only).
    Reaches the calls made through the module's
    global (or the class); a reference taken earlier (``from ... import``, a default argument)
    keeps the student's function. The grader's runner does the same with a stand-in that asks it
    for ``fn``'s values (autograder/sandbox/client.py)."""
    *path, attr = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    own, fn = owner.__dict__.get(attr, _MISSING), stand_in(fn)
    setattr(owner, attr, fn)
    try:
        yield
    finally:
        if own is _MISSING:
            delattr(owner, attr)
        else:
            setattr(owner, attr, own)


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

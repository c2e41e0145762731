"""Lets pytest run the public checks in this folder: ``python -m pytest tests`` (or ``tests/q1a.py``).

Each ``tests/q*.py`` file is an otter-grader test file (the same files ``grader.check`` and the
Gradescope autograder use). A test's parameters are filled by name: a module of the ``hw12`` package
(``binary_diffusion``, ``early_exit``, ...), ``submission`` (the files in this folder's parent) or
``device`` (always ``"cpu"`` here).
"""
from __future__ import annotations

import importlib
import inspect
import json
import random
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class LocalFiles:
    """Read-only access to files next to the notebooks (answers, logs)."""

    def __init__(self, root: Path):
        self.root = root

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def read_bytes(self, rel: str) -> bytes:
        if not self.exists(rel):
            raise FileNotFoundError(f"{rel} does not exist yet: run the notebook that writes it")
        return (self.root / rel).read_bytes()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8", errors="replace")

    def read_json(self, rel: str):
        return json.loads(self.read_text(rel))


def pytest_collect_file(parent, file_path):
    if file_path.parent == HERE and file_path.suffix == ".py" and file_path.name != "conftest.py":
        return OtterTestFile.from_parent(parent, path=file_path)
    return None


class OtterTestFile(pytest.File):
    def collect(self):
        from otter.test_files import test_case

        env = {"__file__": str(self.path), "__name__": f"public_{self.path.stem}"}
        exec(compile(self.path.read_text(), str(self.path), "exec"), env)
        for value in env.values():
            if isinstance(value, test_case):
                yield OtterTestItem.from_parent(self, name=value.test_func.__name__, case=value)


class OtterTestItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        import numpy as np
        import torch

        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        kwargs = {}
        for name in inspect.signature(self.case.test_func).parameters:
            if name == "device":
                kwargs[name] = "cpu"
            elif name == "submission":
                kwargs[name] = LocalFiles(ROOT)
            else:
                kwargs[name] = importlib.import_module(f"hw12.{name}")
        self.case.test_func(**kwargs)

    def repr_failure(self, excinfo, style=None):
        exc = excinfo.value
        if isinstance(exc, NotImplementedError):
            return f"not implemented yet: {exc}"
        if isinstance(exc, AssertionError):
            return f"{self.path.name}::{self.name}\n{exc}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.stem}::{self.name}"

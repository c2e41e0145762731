"""Lets pytest run the public checks in this folder: ``python -m pytest tests`` (or ``tests/q1a.py``).

Each ``tests/q*.py`` file is an otter-grader test file (the same files ``grader.check`` and the
Gradescope autograder use). A test's parameters are filled by name: a module of the ``hw12`` package
(``binary_diffusion``, ``early_exit``, ...), ``submission`` (the files in this folder's parent),
``device`` (always ``"cpu"`` here) or ``substituted`` (puts given values in place of a function that
the tested one calls, so that each question is checked on its own).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (ROOT, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from otter_cases import load_test_cases, run_case, seed_of, student_message  # noqa: E402

SEEDS = json.loads((HERE / "case_seeds.json").read_text())  # "file::function" -> the grader's seed


def pytest_configure(config):
    """No header of tool versions and plugins above the results: only the checks speak."""
    config.option.no_header = True


def pytest_collect_file(parent, file_path):
    if file_path.parent == HERE and file_path.suffix == ".py" and file_path.name.startswith("q"):
        return OtterTestFile.from_parent(parent, path=file_path)
    return None


def pytest_pycollect_makeitem(collector, name, obj):
    """A test file named on the command line is also read by pytest's own collector: the cases are
    this file's collector's to run, not functions of their own."""
    if getattr(obj, "test_func", None) is not None and hasattr(obj, "points"):
        return []
    return None


class OtterTestFile(pytest.File):
    def collect(self):
        for case in load_test_cases(self.path):
            yield OtterTestItem.from_parent(self, name=case.test_func.__name__, case=case)


class OtterTestItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        # seeded as the grader seeds it
        run_case(self.case, seed_of(SEEDS, self.path.name, self.name), ROOT)

    def repr_failure(self, excinfo, style=None):
        """The student's own frames and the error, as the grader reports them: no test-runner
        frames."""
        return student_message(excinfo.value)

    def reportinfo(self):
        return self.path, None, f"{self.path.stem}::{self.name}"

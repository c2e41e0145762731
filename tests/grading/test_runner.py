"""The runner's record of why a case failed (``failure_problem``): the kind of failure set by the
code that raised it, for the staff report's flags; a wrong value or a stub is no problem."""
from __future__ import annotations

import pytest

from autograder.grading.runner import failure_problem
from autograder.grading.sandbox.client import (
    StudentCrashed,
    StudentRaised,
    StudentTimeout,
    ZygoteFailed,
)
from autograder.grading.testfiles import MissingFile


class _Claims(AssertionError):
    problem = "the student's favourite"


@pytest.mark.parametrize("exc, problem", [
    (StudentRaised("f", "ValueError", "bad", ""), "runtime error"),
    (StudentRaised("f", "NotImplementedError", "not implemented yet", ""), ""),
    (StudentTimeout("f did not finish"), "time-out"),
    (StudentCrashed("your code's process ended"), "runtime error"),
    (StudentCrashed("hw12/rlhf.py could not be imported", "import error"), "import error"),
    (StudentCrashed("hw12/rlhf.py was not found", "missing files"), "missing files"),
    (ZygoteFailed("no fork server"), "grader error"),
    (MissingFile("submission_log.json was not found"), "missing files"),
    (AssertionError("expected 0.5, got 0.7"), ""),
    (_Claims("x"), ""),  # only the known kinds
    (BaseExceptionGroup("two", [StudentTimeout("t"), ValueError("v")]), "time-out"),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_failure_problem(exc, problem):
    assert failure_problem(exc) == problem


def test_a_log_problem_of_the_given_code_is_its_problem():
    import inprocess  # noqa: F401 - puts the given code (hw12) on the path

    from hw12.replay import LogProblem

    assert failure_problem(LogProblem("copied", "log does not replay")) == "log does not replay"

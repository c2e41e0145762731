"""The staff report's flags are structured values decided where a problem is found (a test's
``extra_data["problem"]`` in results.json, a grading's status, the export), never recovered from
the words of a message: rewording a message keeps its flag, and words alone make none."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.batch.report import problem_flags as flags_of
from autograder.batch.report import spreadsheet_text
from autograder.grading.sandbox.protocol import PROBLEMS

REPO = Path(__file__).resolve().parents[2]


def _results(*tests) -> dict:
    return {"tests": [{"name": f"t{i}", "status": status, "output": output,
                       "extra_data": extra} for i, (status, output, extra) in enumerate(tests)]}


def test_a_flag_comes_from_the_problem_not_from_the_words():
    reworded = _results(("failed", "it took a while", {"problem": "time-out"}))
    assert [f.kind for f in flags_of(reworded)] == ["time-out"]
    words_only = _results(("failed", "timed out: this test ran past its limit", {}),
                          ("failed", "Your code raised ValueError: x", {}),
                          ("failed", "hw12/rlhf.py could not be imported", {}))
    assert flags_of(words_only) == []


def test_a_passed_test_flags_nothing_and_each_kind_is_flagged_once():
    data = _results(("passed", "", {"problem": "runtime error"}),
                    ("failed", "a", {"problem": "import error"}),
                    ("failed", "b", {"problem": "import error"}),
                    ("failed", "c", {"problem": "missing files"}))
    assert [f.kind for f in flags_of(data)] == ["missing files", "import error"]


def _problems_raised_by_given_code() -> set[str]:
    """The problem names that hw12/replay.py passes to LogProblem, read from its source."""
    tree = ast.parse((REPO / "solutions" / "hw12" / "replay.py").read_text())
    return {node.args[1].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LogProblem"}


def test_the_given_code_names_only_problems_the_report_knows():
    """The given code cannot import the grader, so it spells the problem names itself."""
    named = _problems_raised_by_given_code()
    assert {"module hash mismatch", "log does not replay", "grader error"} <= named
    assert named <= set(PROBLEMS), named - set(PROBLEMS)


@pytest.mark.parametrize("cell, shown", [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-0.5", "-0.5"), ("+1", "+1"), ("Ada Lovelace", "Ada Lovelace"), (3.5, 3.5),
])
def test_spreadsheet_cells_that_would_be_formulas_are_text(cell, shown):
    assert spreadsheet_text(cell) == shown

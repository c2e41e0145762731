"""Run the public checks of a question from a notebook, the same checks as ``tests/<question>.py``.

    from hw12.check import Notebook
    grader = Notebook(part="diffusion")
    grader.check("q1b")     # the public checks of 1(b), against your hw12/ code as it is on disk
    grader.check_all()      # every public check of the part

Before each check the modules the checks use are read again from disk, so an edit to ``hw12/*.py``
counts without restarting the kernel, whatever name the notebook imported the module under. Each
check is seeded as the Gradescope autograder seeds it and reports the same messages.
"""
from __future__ import annotations

import html
import importlib
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from hw12.parts import PARTS

ROOT = Path(__file__).resolve().parent.parent  # the folder with hw12/, tests/ and the notebooks
TESTS = ROOT / "tests"


@dataclass(frozen=True)
class CaseResult:
    """One public check: its name, whether it passed, and what it says when it did not."""

    name: str
    passed: bool
    message: str = ""

    def text(self) -> str:
        if self.passed:
            return f"  passed  {self.name}"
        return f"  FAILED  {self.name}\n" + textwrap.indent(self.message, "          ")


class _Report:
    """Shared display: plain text for ``print`` and the console, ``<pre>`` for Jupyter."""

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        colour = "green" if self.passed else "firebrick"
        return f'<pre style="color: {colour}">{html.escape(self.text())}</pre>'


@dataclass(frozen=True, repr=False)
class QuestionResult(_Report):
    """The public checks of one question."""

    question: str
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    def text(self) -> str:
        n = sum(c.passed for c in self.cases)
        head = (f"{self.question}: all public checks passed ({n} of {n})" if self.passed
                else f"{self.question}: {n} of {len(self.cases)} public checks passed")
        return "\n".join([head] + [c.text() for c in self.cases])


@dataclass(frozen=True, repr=False)
class AllResults(_Report):
    """The public checks of several questions."""

    results: tuple[QuestionResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def text(self) -> str:
        n = sum(r.passed for r in self.results)
        return "\n\n".join([r.text() for r in self.results]
                           + [f"{n} of {len(self.results)} questions pass their public checks"])


def _otter_cases():
    """``tests/otter_cases.py``: how a check's cases are loaded, seeded and run (as by the tests)."""
    if not (TESTS / "otter_cases.py").is_file():
        raise FileNotFoundError(f"the public checks belong in {TESTS} (the tests/ folder of the "
                                "homework, next to hw12/)")
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("otter_cases")


def _fresh_modules():
    """A lookup ``name -> hw12.<name>`` that reads each module again from disk once."""
    seen: dict[str, object] = {}

    def module(name: str):
        if name not in seen:
            seen[name] = importlib.reload(importlib.import_module(f"hw12.{name}"))
        return seen[name]
    return module


def check(question: str) -> QuestionResult:
    """Run the public checks of ``question`` (e.g. ``"q1b"``) against the code on disk."""
    file = TESTS / f"{question}.py"
    if not file.is_file():
        known = sorted(q for p in PARTS.values() for q in p["questions"])
        raise ValueError(f"no public checks for {question!r}; the questions are {', '.join(known)}")
    cases = _otter_cases()
    seeds = json.loads((TESTS / "case_seeds.json").read_text())
    module = _fresh_modules()
    results = []
    for case in cases.load_test_cases(file):
        name = case.test_func.__name__
        try:
            cases.run_case(case, cases.seed_of(seeds, file.name, name), ROOT, module=module)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the others
            results.append(CaseResult(name, False, cases.student_message(exc)))
        else:
            results.append(CaseResult(name, True))
    return QuestionResult(question, tuple(results))


class Notebook:
    """otter's ``Notebook`` calling convention: ``check(question)`` and ``check_all()``.

    part: ``"diffusion"``, ``"early_exit"`` or ``"rlhf"``; ``check_all`` runs that part's questions.
    """

    def __init__(self, part: str):
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; the parts are {', '.join(PARTS)}")
        self.part = part

    def check(self, question: str) -> QuestionResult:
        return check(question)

    def check_all(self) -> AllResults:
        return AllResults(tuple(check(q) for q in PARTS[self.part]["questions"]))

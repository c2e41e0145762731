"""tests/ is laid out like autograder/: ``autograder/<folder>/<module>.py`` is tested in
``tests/<folder>/test_<module>.py`` (and the homework's own code in ``tests/solutions/``), and
pytest collects every folder of it (its default skips a folder named ``build``)."""
from __future__ import annotations

import fnmatch
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = {"mutants"}  # the mutant bank: implementations, not tests


def test_each_test_folder_mirrors_a_folder_of_the_project():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    code = {p.name for p in (ROOT / "autograder").iterdir() if (p / "__init__.py").exists()}
    assert folders - DATA <= code | {"solutions"}, sorted(folders - DATA - code)
    assert {"grading", "build", "checks", "batch"} <= folders


def test_pytest_collects_every_test_folder(pytestconfig):
    skipped = pytestconfig.getini("norecursedirs")
    with_tests = {p.parent for p in TESTS.rglob("test_*.py")}
    hidden = [d.relative_to(TESTS).as_posix() for d in with_tests
              if any(fnmatch.fnmatch(part, pattern) for part in d.relative_to(TESTS).parts
                     for pattern in skipped)]
    assert not hidden, f"test folders pytest never enters (norecursedirs {skipped}): {hidden}"
    assert TESTS / "build" in with_tests

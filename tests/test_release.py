"""The student release: generated from solutions/, in sync, and free of solutions and hidden tests."""
from __future__ import annotations

import filecmp
import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.release import MarkerError, solution_lines, strip_code, strip_markdown
from conftest import REPO

RELEASE = REPO / "assignment"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_release_is_up_to_date(tmp_path):
    """Rebuilding into a fresh folder gives byte-identical files (run `python -m autograder build`)."""
    from autograder.config import load_config
    from autograder.release import build_release
    from autograder.written import render_written, write_pdfs

    _, cases = load_config(REPO / "grading_config.yaml", REPO / "autograder" / "tests")
    public = sorted({c.file for cs in cases.values() for c in cs if c.visibility == "public"})
    written, _ = render_written(REPO)
    build_release(REPO, tmp_path / "a", REPO / "autograder" / "tests", public, written)
    write_pdfs(tmp_path / "a", tmp_path, written, None)   # the handout and the answer template
    fresh, committed = _tree(tmp_path / "a"), _tree(RELEASE)
    assert sorted(fresh) == sorted(committed), "assignment/ has missing or extra files: rebuild it"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"assignment/ is out of date for {stale}: run `python -m autograder build`"


def test_release_has_no_solution_text_or_hidden_tests():
    outside = set()
    inside = set()
    for src in (REPO / "solutions").rglob("*"):
        if src.is_file() and src.suffix in (".py", ".ipynb", ".md") and "__pycache__" not in src.parts:
            text = src.read_text()
            inside |= solution_lines(text)
            outside |= {ln.strip() for ln in strip_markdown(text, str(src)).splitlines()} \
                if src.suffix == ".md" else set()
    for path, data in _tree(RELEASE).items():
        text = data.decode("utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path
        assert "hidden=True" not in text, f"{path} contains a hidden test"
        lines = {ln.strip() for ln in text.splitlines()}
        leaked = (inside - outside) & lines
        assert not leaked, f"{path} contains solution lines: {sorted(leaked)[:3]}"
    hidden_names = {p.name for p in (REPO / "autograder" / "tests").glob("*/hidden/*.py")}
    hidden_sources = {p.read_text() for p in (REPO / "autograder" / "tests").glob("*/hidden/*.py")}
    for p in (RELEASE / "tests").glob("*.py"):
        assert p.read_text() not in hidden_sources, f"{p.name} is a hidden test file"
    assert hidden_names, "there should be hidden tests to keep out"


def test_build_twice_changes_nothing(tmp_path):
    """`python -m autograder build` is deterministic: the release and zips are byte-identical."""
    def build():
        subprocess.run([sys.executable, "-m", "autograder", "build"], cwd=REPO, check=True,
                       capture_output=True)
    build()
    before = _tree(RELEASE)
    zips = {p.name: p.read_bytes() for p in (REPO / "dist" / "gradescope").glob("*.zip")}
    assert zips, "build wrote no zips"
    build()
    assert _tree(RELEASE) == before
    assert {p.name: p.read_bytes() for p in (REPO / "dist" / "gradescope").glob("*.zip")} == zips


@pytest.fixture
def release_on_path(monkeypatch):
    """Import ``hw12`` from assignment/ inside the test, and leave no trace of it afterwards."""
    def is_hw12(name):
        return name == "hw12" or name.startswith("hw12.")

    saved = {m: sys.modules.pop(m) for m in list(sys.modules) if is_hw12(m)}
    monkeypatch.syspath_prepend(str(RELEASE))
    yield
    for m in [m for m in list(sys.modules) if is_hw12(m)]:
        del sys.modules[m]
    sys.modules.update(saved)


def test_stubs_import_and_raise_not_implemented(release_on_path):
    for module in ("binary_diffusion", "gaussian_diffusion", "rlhf"):
        mod = importlib.import_module(f"hw12.{module}")
        assert Path(mod.__file__).is_relative_to(RELEASE)
        stubs = [n for n, f in inspect.getmembers(mod, inspect.isfunction)
                 if f.__module__ == mod.__name__ and "NotImplementedError" in inspect.getsource(f)]
        assert stubs, f"{module} has no stubs"
        for name in stubs:
            doc = inspect.getdoc(getattr(mod, name)) or ""
            assert len(doc) > 40, f"{module}.{name}: the stub needs a docstring with shapes"


def test_strip_code_turns_blocks_into_stubs():
    src = ('def f(x):\n    """Doc."""\n    # BEGIN SOLUTION\n    # HINT: square it.\n'
           '    return x * x\n    # END SOLUTION\nANSWER = "tanh"  # SOLUTION\n')
    out = strip_code(src, "hw12/m.py")
    assert "return x * x" not in out and "tanh" not in out
    assert "    # TODO: square it." in out
    assert '    raise NotImplementedError("f: not implemented yet (hw12/m.py)")' in out
    assert "ANSWER = None  # TODO" in out
    nb = strip_code("# BEGIN SOLUTION\ny = 1\n# END SOLUTION\n", "nb", notebook=True)
    assert nb == "...\n"


@pytest.mark.parametrize("src", [
    "# BEGIN SOLUTION\nx = 1\n",
    "x = 1\n# END SOLUTION\n",
    "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
])
def test_unbalanced_markers_are_refused(src):
    with pytest.raises(MarkerError):
        strip_code(src, "hw12/m.py")


def test_public_tests_run_in_the_release_with_pytest(tmp_path):
    """Students' command: every public test fails on the stubs with 'not implemented yet'."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests", "-k", "q1a or q2a"], cwd=RELEASE, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "not implemented yet" in proc.stdout
    assert " passed" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]


def test_public_tests_pass_on_the_reference_with_pytest(tmp_path):
    work = tmp_path / "student"
    work.mkdir()
    shutil.copytree(RELEASE / "tests", work / "tests")
    shutil.copytree(REPO / "solutions" / "hw12", work / "hw12")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                           "-k", "q1 or q2"], cwd=work, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]

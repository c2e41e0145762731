"""The student release: generated from solutions/, in sync, and free of solutions and hidden tests."""
from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from autograder.build.release import MarkerError, solution_lines, strip_code, strip_markdown

RELEASE = REPO / "assignment"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


# What `python -m autograder build` writes and the repository commits (dist/ is not committed).
GENERATED = ["assignment", "docs/QUESTIONS.md", "solutions/hw12/parts.py",
             "solutions/written/hw12_key.md", "solutions/written/hw12_key.pdf"]


def _generated(root: Path) -> dict[str, bytes]:
    out = {}
    for rel in GENERATED:
        path = root / rel
        if path.is_dir():
            out.update({f"{rel}/{k}": v for k, v in _tree(path).items()})
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def _sources_copy(dest: Path) -> Path:
    """The repository's sources (tracked and new files, not ignored ones) copied into ``dest``,
    without anything the build generates: a build there starts from scratch and never touches
    the repository, so it cannot race with tests that read assignment/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file() or any(rel == g or rel.startswith(g + "/") for g in GENERATED):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return dest


def _build(root: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", *args], cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory):
    """A temporary copy of the sources, built once with `python -m autograder build`."""
    root = _sources_copy(tmp_path_factory.mktemp("fresh") / "repo")
    _build(root)
    return root


def test_release_is_up_to_date(fresh_build):
    """A fresh build from the sources gives the committed files byte for byte: assignment/, the
    key, docs/QUESTIONS.md and solutions/hw12/parts.py (run `python -m autograder build` and
    commit)."""
    fresh, committed = _generated(fresh_build), _generated(REPO)
    missing, extra = sorted(set(fresh) - set(committed)), sorted(set(committed) - set(fresh))
    assert not missing and not extra, (
        f"missing {missing[:5]}, extra {extra[:5]}: run `python -m autograder build` and commit")
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"out of date: {stale}: run `python -m autograder build` and commit"


def test_build_twice_changes_nothing(fresh_build):
    """`python -m autograder build` is deterministic: the release, the key, the question index and
    the zips are byte-identical after a second build."""
    before = _generated(fresh_build)
    zips = _tree(fresh_build / "dist" / "gradescope")
    assert sorted(zips) == ["diffusion.zip", "early_exit.zip", "rlhf.zip"], sorted(zips)
    _build(fresh_build)
    assert _generated(fresh_build) == before
    assert _tree(fresh_build / "dist" / "gradescope") == zips


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
    nb = strip_code("# the answer\n# BEGIN SOLUTION\ny = 1\n# END SOLUTION\n", "nb", cell=4)
    assert nb == "# the answer\nraise NotImplementedError('fill in the TODO in cell 4: the answer')\n"


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


# ---- docs/QUESTIONS.md -------------------------------------------------------------------------
INDEX = REPO / "docs" / "QUESTIONS.md"
LINK = re.compile(r"\[([^\]]*)\]\(\.\./([^)#\s]+)(?:#([^)\s]+))?\)")


def test_question_index_is_current():
    from autograder.build.question_index import render_index

    assert INDEX.read_text(encoding="utf-8") == render_index(REPO), (
        "docs/QUESTIONS.md is out of date: run `python -m autograder build` and commit")


def test_question_index_links_land_on_what_they_name():
    """Every link points at an existing file; a line link lands on the definition of the name it
    shows; a key link names a heading of the key; every question of the config has a section."""
    from autograder.build.question_index import github_anchor
    from autograder.grading.config import load_config

    text = INDEX.read_text(encoding="utf-8")
    cfg, _ = load_config(REPO / "grading_config.yaml", REPO / "autograder" / "tests")
    for part in cfg.parts.values():
        for q in part.questions:
            assert f"### `{q}` " in text, f"docs/QUESTIONS.md has no section for {q}"
    links = [(m.group(1), m.group(2), m.group(3)) for m in LINK.finditer(text)]
    assert len(links) > 100, "docs/QUESTIONS.md links too little"
    for whole, rel, anchor in links:
        target = REPO / rel
        assert target.is_file(), f"{whole}: {rel} does not exist"
        if anchor and anchor.startswith("L") and anchor[1:].isdigit():
            name = whole.strip("`").split(".")[-1]
            line = target.read_text(encoding="utf-8").splitlines()[int(anchor[1:]) - 1]
            assert re.match(rf"\s*(def|class)\s+{name}\b|\s*{name}\s*[:=]", line), (whole, line)
        elif anchor:
            headings = [github_anchor(h.lstrip("#")) for h in target.read_text(encoding="utf-8")
                        .splitlines() if h.startswith("#")]
            assert anchor in headings, f"{whole}: no heading with anchor #{anchor}"


def test_question_index_finds_definitions_by_name_not_line():
    """Moving code around a module moves the index's line numbers with it."""
    from autograder.build.question_index import definitions, student_definitions

    src = ("X = 1\n\n\ndef f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n\n\n"
           "class M:\n    def predict(self):\n        # BEGIN SOLUTION\n        pass\n"
           "        # END SOLUTION\n\n    def given(self):\n        pass\n\n\n"
           "ANSWER = 'tanh'  # SOLUTION\n")
    assert student_definitions(src) == {"f": 4, "M.predict": 11, "ANSWER": 20}
    shifted = "import os\n\n\ndef helper():\n    pass\n\n\n" + src
    assert student_definitions(shifted) == {"f": 11, "M.predict": 18, "ANSWER": 27}
    assert definitions(shifted)["M.given"] == 23 and definitions(shifted)["X"] == 8

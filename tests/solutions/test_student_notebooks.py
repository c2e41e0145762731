"""What students meet in the release: the notebooks' check cells (``hw12.check``), the Colab setup
cell, the TODO cells that stop with "fill in the TODO in cell N", and one account of what to upload
(grading_config.yaml -> hw12/parts.py, hw12.export, the README, the notebooks, the written text).

The notebook runs execute small notebooks made of the release notebooks' own setup, import and
check cells, not their training cells."""
from __future__ import annotations

import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

RELEASE = REPO / "assignment"
SOL = REPO / "solutions"
PART_NOTEBOOKS = {"diffusion": "hw12_diffusion.ipynb", "early_exit": "hw12_early_exit.ipynb",
                  "rlhf": "hw12_rlhf.ipynb"}
WRITTEN_FILES = ("early_exit_answers.json", "submission_log.json")


def _config():
    from autograder.grading.config import load_config

    return load_config(REPO / "grading_config.yaml", REPO / "autograder" / "tests")


def _cells(name: str, root: Path = RELEASE) -> list[dict]:
    cells = json.loads((root / name).read_text())["cells"]
    for c in cells:
        c["source"] = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
    return cells


def _is_check(source: str) -> bool:
    return source.startswith(("grader.check(", "grader.check_all("))


def _release_copy(dest: Path, reference: bool) -> Path:
    """The release in ``dest``; with ``reference``, the reference modules and written files."""
    shutil.copytree(RELEASE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    if reference:
        for f in (SOL / "hw12").glob("*.py"):
            shutil.copyfile(f, dest / "hw12" / f.name)
        for f in WRITTEN_FILES:
            shutil.copyfile(SOL / f, dest / f)
    return dest


def _run(cells: list[str], cwd: Path, env: dict[str, str] | None = None, allow_errors=False):
    """Execute code cells in a fresh kernel in ``cwd``; the executed notebook."""
    import nbformat

    from autograder.build.record import execute_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    return execute_notebook(nb, cwd, {"MPLBACKEND": "Agg", **(env or {})}, timeout=300,
                            allow_errors=allow_errors)


def _text(cell) -> str:
    """What a cell showed: printed text, and the plain-text form of its result."""
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", "") + o.get("data", {}).get("text/plain", ""))
        if o.get("output_type") == "error":
            out.append(f"{o['ename']}: {o['evalue']}")
    return "".join(out)


def _check_notebook() -> tuple[list[str], list[tuple[str, str]]]:
    """Setup and import cells of every release notebook, then its check cells, in order; with the
    (part, source) of each check cell."""
    cells, checks = [], []
    for part, name in PART_NOTEBOOKS.items():
        code = [c["source"] for c in _cells(name) if c["cell_type"] == "code"]
        cells += code[:2]  # the setup cell and the imports (which make `grader`)
        for src in filter(_is_check, code):
            cells.append(src)
            checks.append((part, src))
    return cells, checks


# ---- the check cells ------------------------------------------------------------------------------
def test_every_question_with_public_checks_has_a_check_cell_and_check_all_ends():
    cfg, _ = _config()
    for part_name, name in PART_NOTEBOOKS.items():
        code = [c["source"] for c in _cells(name) if c["cell_type"] == "code"]
        checked = re.findall(r'grader\.check\("(\w+)"\)', "\n".join(code))
        public = [q for q, spec in cfg.parts[part_name].questions.items() if spec.public]
        assert sorted(checked) == sorted(public), name
        assert code[-1].strip() == "grader.check_all()", name
        compile(code[0], name, "exec")  # the setup cell is plain Python (no magics)
        assert '"autoreload", "2"' in code[0], name


def test_check_cells_report_failures_on_the_stubs(tmp_path):
    """Untouched stubs: every check cell runs without an error and reports its failures."""
    work = _release_copy(tmp_path / "release", reference=False)
    cells, checks = _check_notebook()
    nb = _run(cells, work)
    shown = [_text(c) for c in nb.cells if _is_check(c.source)]
    assert len(shown) == len(checks)
    for (part, src), text in zip(checks, shown):
        assert "FAILED" in text and "Traceback" not in text, (part, src, text)
    q1a = shown[0]
    assert "not implemented yet" in q1a and "survival_prob" in q1a, q1a


@pytest.mark.extended  # every public check of the three parts in one kernel: 24 s on an idle machine
def test_check_cells_pass_on_the_reference(tmp_path):
    import hashlib

    work = _release_copy(tmp_path / "release", reference=True)
    # the committed answers file predates the last edit of the reference module: give it the hash
    # of the module it is checked with (its numbers are what this test relies on)
    answers = json.loads((work / "early_exit_answers.json").read_text())
    answers["module_sha256"] = hashlib.sha256((work / "hw12" / "early_exit.py").read_bytes()).hexdigest()
    (work / "early_exit_answers.json").write_text(json.dumps(answers))
    cells, checks = _check_notebook()
    nb = _run(cells, work, {"HW12_QUICK": "1"})
    shown = [_text(c) for c in nb.cells if _is_check(c.source)]
    failed = [(part, src, text) for (part, src), text in zip(checks, shown)
              if "FAILED" in text or "public checks passed" not in text]
    assert not failed, "\n\n".join(text for *_, text in failed)
    for text in (t for (_, s), t in zip(checks, shown) if "check_all" in s):
        done, total = map(int, re.search(r"(\d+) of (\d+) questions pass", text).groups())
        assert done == total > 0, text


def test_a_check_reads_the_module_again_after_an_edit(tmp_path):
    """The notebook imported the module as `bd`; an edit on disk counts at the next check."""
    work = _release_copy(tmp_path / "release", reference=False)
    code = [c["source"] for c in _cells("hw12_diffusion.ipynb") if c["cell_type"] == "code"]
    reference = (SOL / "hw12" / "binary_diffusion.py").read_text()
    edit = f"open('hw12/binary_diffusion.py', 'w').write({reference!r})"
    nb = _run(code[:2] + ['grader.check("q1a")', edit, 'grader.check("q1a")',
                          "print(bd.survival_prob(2, 0.25))"], work)
    before, after, value = (_text(c) for c in (nb.cells[2], nb.cells[4], nb.cells[5]))
    assert "0 of 2 public checks passed" in before, before
    assert "all public checks passed" in after, after
    assert value.strip() == "0.25", value


def test_check_result_lists_each_case_in_text_and_html(tmp_path):
    work = _release_copy(tmp_path / "release", reference=False)
    saved = {m: sys.modules.pop(m) for m in list(sys.modules) if m.split(".")[0] == "hw12"}
    sys.path.insert(0, str(work))
    try:
        from hw12.check import Notebook

        result = Notebook(part="diffusion").check("q2a")
        with pytest.raises(ValueError, match="no public checks for 'q9'"):
            Notebook(part="diffusion").check("q9")
    finally:
        sys.path.remove(str(work))
        for m in [m for m in sys.modules if m.split(".")[0] == "hw12"]:
            del sys.modules[m]
        sys.modules.update(saved)
    assert not result.passed and len(result.cases) == 2
    for case in result.cases:
        assert case.name in repr(result) and case.name in result._repr_html_()
        assert "alpha_bar: not implemented yet" in case.message or "q_sample" in case.message


# ---- TODO cells -----------------------------------------------------------------------------------
def test_every_todo_cell_stops_with_its_number_and_is_listed():
    from autograder.build.release import todo_cells

    readme = (RELEASE / "README.md").read_text()
    for name in PART_NOTEBOOKS.values():
        cells = _cells(name)
        todos = todo_cells((SOL / name).read_text())
        assert [n for n, _ in todos] == [n for n, c in enumerate(cells, 1)
                                         if c["cell_type"] == "code"
                                         and "fill in the TODO in cell" in c["source"]], name
        intro = cells[0]["source"]
        for n, label in todos:
            stop = f"fill in the TODO in cell {n}: {label}"
            assert stop in cells[n - 1]["source"], (name, n)
            assert f"- cell {n}: {label}" in intro and f"- cell {n}: {label}" in readme, (name, n)


def test_an_unfilled_todo_cell_stops_with_the_message(tmp_path):
    """The first TODO cell of the diffusion notebook, run in quick mode after the cells above it."""
    from autograder.build.release import todo_cells

    work = _release_copy(tmp_path / "release", reference=True)
    (n, label), *_ = todo_cells((SOL / "hw12_diffusion.ipynb").read_text())
    cells = _cells("hw12_diffusion.ipynb")[:n]
    code = [c["source"] for c in cells if c["cell_type"] == "code" and not _is_check(c["source"])]
    nb = _run(code, work, {"HW12_QUICK": "1"}, allow_errors=True)
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "NotImplementedError", errors
    assert errors[0].evalue == f"fill in the TODO in cell {n}: {label}"
    assert nb.cells[-1].outputs == [errors[0]]


# ---- Colab ----------------------------------------------------------------------------------------
def _fake_colab(root: Path) -> Path:
    """A ``google.colab`` package that makes the setup cell believe it runs on Colab."""
    pkg = root / "google" / "colab"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Stands in for Colab\'s package in the tests."""\n')
    return root


@pytest.mark.parametrize("source", ["zip-url", "folder"])
def test_colab_setup_cell_fetches_the_release_and_installs_nothing(tmp_path, source):
    release = shutil.copytree(RELEASE, tmp_path / "published" / "hw12_release",
                              ignore=shutil.ignore_patterns("__pycache__"))
    if source == "zip-url":
        archive = tmp_path / "published" / "hw12_release.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for f in sorted(release.rglob("*")):
                zf.write(f, f.relative_to(release.parent))
        where = archive.as_uri()
    else:
        where = str(release)
    content = tmp_path / "content"
    content.mkdir()
    setup = [c["source"] for c in _cells("hw12_diffusion.ipynb") if c["cell_type"] == "code"][0]
    fake = _fake_colab(tmp_path / "fake")
    nb = _run([setup, "import hw12, os; print(os.getcwd()); print(hw12.__file__)"], content,
              {"HW12_RELEASE": where, "PYTHONPATH": str(fake)})
    said, cwd = _text(nb.cells[0]), _text(nb.cells[1]).split()
    assert "every package it needs is installed" in said and "installing" not in said, said
    assert Path(cwd[0]) == content / "hw12_release" / ("hw12_release" if source == "zip-url" else "")
    assert Path(cwd[1]).parent.parent == Path(cwd[0])


def test_setup_cell_does_nothing_but_autoreload_off_colab(tmp_path):
    setup = [c["source"] for c in _cells("hw12_rlhf.ipynb") if c["cell_type"] == "code"][0]
    nb = _run([setup, "print(sorted(get_ipython().extension_manager.loaded))"], tmp_path,
              {"HW12_RELEASE": str(tmp_path / "nowhere.zip")})
    assert _text(nb.cells[0]) == "" and "autoreload" in _text(nb.cells[1])
    assert list(tmp_path.iterdir()) == []


def test_every_notebook_has_the_same_setup_cell_with_the_configured_source():
    cfg, _ = _config()
    setups = {name: [c["source"] for c in _cells(name) if c["cell_type"] == "code"][0]
              for name in PART_NOTEBOOKS.values()}
    assert len(set(setups.values())) == 1
    expected = f'os.environ.get("HW12_RELEASE", "{cfg.release.colab_source}")'
    assert all(expected in s for s in setups.values())


# ---- one account of what to upload -----------------------------------------------------------------
def _solutions_package():
    if str(SOL) not in sys.path:
        sys.path.append(str(SOL))
    import hw12.export
    import hw12.parts

    return hw12.parts, hw12.export


def test_export_zips_what_the_grading_config_grades(tmp_path):
    """`python -m hw12.export <part>` zips exactly the files grading_config.yaml grades (build
    renders hw12/parts.py from the config: tests/build/test_parts.py)."""
    from autograder.build.student_guide import upload_files

    cfg, _ = _config()
    _, export = _solutions_package()
    for name, part in cfg.parts.items():
        expected = upload_files(part)
        root = tmp_path / name
        for rel in expected:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("x = 1\n")
        with zipfile.ZipFile(export.export(name, root)) as zf:
            assert sorted(zf.namelist()) == sorted(expected)
    with pytest.raises(FileNotFoundError, match="missing"):
        export.export("rlhf", tmp_path / "empty")


def test_readme_notebooks_and_written_text_say_the_same_about_uploads():
    from autograder.build.student_guide import upload_files

    cfg, _ = _config()
    readme = (RELEASE / "README.md").read_text()
    written = (RELEASE / "written" / "hw12_written.md").read_text()
    for name, part in cfg.parts.items():
        command, zip_name = f"python -m hw12.export {name}", f"hw12_{name}_submission.zip"
        files = upload_files(part)
        row = next(line for line in readme.splitlines() if command in line)
        closing = _cells(part.notebook)[-1]["source"]
        for text in (row, closing):
            assert zip_name in text and part.title in text, (name, text)
            assert all(f"`{f}`" in text for f in files), (name, text)
        notebook = "\n".join(c["source"] for c in _cells(part.notebook) if c["cell_type"] == "markdown")
        assert "together with the notebook" not in notebook, name
        intro = _cells(part.notebook)[0]["source"]
        assert all(f"- {q}: {spec.title}" in intro for q, spec in part.questions.items()), name
    for line in (ln for ln in written.split("\n\n") if "(Code) (" in ln):
        assert "python -m hw12.export" in line, line

"""The solution notebooks run headless, end to end, in quick mode (HW12_QUICK=1), and produce
their figures; the student versions in assignment/ keep the TODO cells and the otter_ignore tags."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.notebook


def execute(name: str, timeout: int, workdir: Path):
    """Run solutions/<name> in ``workdir`` (a copy with hw12/), so its outputs land there."""
    import shutil

    import nbformat

    from autograder.build.record import execute_notebook

    shutil.copytree(REPO / "solutions" / "hw12", workdir / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "assignment" / "tests", workdir / "tests")  # for the check cells
    nb = nbformat.read(REPO / "solutions" / name, as_version=4)
    # no MPLBACKEND: the kernel's inline backend captures the figures
    return execute_notebook(nb, workdir, {"HW12_QUICK": "1", "PYTHONPATH": str(workdir),
                                          "MPLBACKEND": None}, timeout)


def images(cell) -> int:
    return sum(1 for o in cell.get("outputs", [])
               if o.get("output_type") == "display_data" and "image/png" in o.get("data", {}))


def _errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def test_diffusion_notebook_runs_in_quick_mode(tmp_path):
    nb = execute("hw12_diffusion.ipynb", timeout=300, workdir=tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0]
    grid = [c for c in code if "sample_reverse(" in c.source]
    assert grid and images(grid[0]) == 1, "the generated-digits cell shows one image"
    assert sum(images(c) for c in code) >= 7, "every plotting cell shows its figure"
    posterior = next(c for c in code if "posterior_prob_plus" in c.source)
    text = "".join(o.get("text", "") for o in posterior.outputs)
    rows = [line.split() for line in text.splitlines() if line[:1] in "+-"]
    assert len(rows) == 4, text
    for _, _, simulated, exact in rows:  # 4 or 16 copies of 512 images: errors well under 0.03
        assert abs(float(simulated) - float(exact)) < 0.03, text


@pytest.mark.slow  # minutes on 2 cores: SFT, reward model and two RL runs; `make test-all` runs it
def test_rlhf_notebook_runs_in_quick_mode_and_writes_a_valid_log(tmp_path):
    import sys

    nb = execute("hw12_rlhf.ipynb", timeout=900, workdir=tmp_path)
    assert not _errors(nb), _errors(nb)[0]
    log = json.loads((tmp_path / "submission_log.json").read_text())
    sys.path.insert(0, str(tmp_path))
    try:
        from hw12.rlhf_data import file_sha256, validate_log
    finally:
        sys.path.remove(str(tmp_path))
    validate_log(log)
    assert log["code"]["sha256"] == file_sha256(tmp_path / "hw12" / "rlhf.py")
    assert log["quick"] is True
    assert log["final_evaluation"]["true_quality_gain"] > 0, "RL must raise the hidden quality"


def test_student_notebooks_keep_todos_and_tags():
    for src in sorted((REPO / "solutions").glob("*.ipynb")):
        student = json.loads((REPO / "assignment" / src.name).read_text())
        reference = json.loads(src.read_text())
        tags = [c.get("metadata", {}).get("tags", []) for c in reference["cells"]]
        assert tags == [c.get("metadata", {}).get("tags", []) for c in student["cells"]], src.name
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                   for c in student["cells"]]
        has_blocks = "BEGIN SOLUTION" in src.read_text()
        assert not has_blocks or any("# TODO" in s for s in sources), src.name
        assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")


@pytest.mark.extended  # three trainings and every check cell (minutes on 2 busy cores): CI runs it after make test
def test_early_exit_notebook_runs_in_quick_mode_and_writes_valid_answers(tmp_path):
    import sys

    nb = execute("hw12_early_exit.ipynb", timeout=600, workdir=tmp_path)
    assert not _errors(nb), _errors(nb)[0]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert images(next(c for c in code if "threshold_sweep(" in c.source)) == 1, "sweep plot"
    answers = json.loads((tmp_path / "early_exit_answers.json").read_text())
    sys.path.insert(0, str(REPO))
    import inprocess  # noqa: F401 - puts the given code (hw12) on the path

    from autograder.grading.testlib.early_exit_oracles import consistency_problems, validate_answers
    from hw12.code_hash import file_sha256
    assert validate_answers(answers) == [] and consistency_problems(answers) == []
    assert answers["quick_mode"] is True
    assert answers["module_sha256"] == file_sha256(tmp_path / "hw12" / "early_exit.py")


def test_recording_runs_the_notebooks_check_cells(tmp_path):
    """`python -m autograder record` executes a notebook with its check cells: the run finds the
    public checks (the RLHF notebook's set-up, import and first check cells, then a cell that writes
    the output the recorder reads)."""
    import shutil

    import nbformat

    from autograder.build.record import run_notebook

    nb = nbformat.read(REPO / "solutions" / "hw12_rlhf.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_check = next(c for c in code if c.source.startswith("grader.check("))
    writer = nbformat.v4.new_code_cell(
        "import json\nresult = grader.check('q4_logprobs')\n"
        "json.dump({'passed': result.passed, 'cases': len(result.cases)}, open('out.json', 'w'))")
    nb.cells = code[:2] + [first_check, writer]
    shutil.copytree(REPO / "solutions" / "hw12", tmp_path / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    nbformat.write(nb, tmp_path / "mini.ipynb")
    out = run_notebook(tmp_path, "mini.ipynb", "out.json", {"HW12_QUICK": "1"}, timeout=300)
    assert out["passed"] is True and out["cases"] > 0, out

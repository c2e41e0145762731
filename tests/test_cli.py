"""`python -m autograder grade`: a zip, a folder of many submissions (scores.csv), and results.json
that always satisfies Gradescope's schema (and a schema that really rejects malformed files)."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile

import jsonschema
import pytest
from conftest import REPO

from autograder.grading.results import failure_results, validate


def _grade(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "autograder", "grade", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def _reference(dest):
    shutil.copytree(REPO / "solutions" / "hw12", dest / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_grade_a_zip_prints_the_table_and_writes_results(tmp_path):
    sub = _reference(tmp_path / "sub")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (sub / "hw12").glob("*_diffusion.py"):
            zf.write(f, f"hw12/{f.name}")
    out = tmp_path / "results.json"
    proc = _grade(str(archive), "--part", "diffusion", "--output", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    validate(data)
    assert data["score"] == pytest.approx(sum(t.get("max_score", 0) for t in data["tests"]))
    assert "q1a" in proc.stdout and "total" in proc.stdout


def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.py", "x = 1\n")
    proc = _grade(str(archive), "--part", "diffusion", "--output", str(tmp_path / "r.json"))
    assert proc.returncode != 0 and "points outside the upload" in proc.stderr
    assert not (tmp_path.parent / "escaped.py").exists()


def test_batch_of_submissions_gives_results_each_and_scores_csv(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text("{}\n")
    _reference(export / "submission_1")
    shutil.copytree(REPO / "assignment" / "hw12", export / "submission_2" / "hw12")
    (export / "submission_3").mkdir()  # uploaded nothing useful
    (export / "submission_3" / "notes.txt").write_text("hello")
    out = tmp_path / "graded"
    proc = _grade(str(export), "--part", "diffusion", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "scores.csv"))}
    assert set(rows) == {"submission_1", "submission_2", "submission_3"}
    full = sum(t.get("max_score", 0) for t in json.loads(
        (out / "submission_1" / "results.json").read_text())["tests"])
    assert float(rows["submission_1"]["score"]) == pytest.approx(full)
    assert float(rows["submission_2"]["score"]) == 0
    assert float(rows["submission_3"]["score"]) == 0
    for name in rows:
        validate(json.loads((out / name / "results.json").read_text()))
    assert float(rows["submission_1"]["q1a"]) > 0


@pytest.mark.parametrize("bad", [
    {"score": "ten", "tests": []},
    {"score": 1, "tests": [{"name": "x", "output": "", "visibility": "sometimes"}]},
    {"score": 1, "tests": [{"name": "x", "output": "", "visibility": "visible", "status": "ok"}]},
    {"score": 1, "tests": [{"name": "x", "visibility": "visible"}]},
    {"tests": "none"},
    {"score": 1, "unknown_field": 1},
])
def test_schema_rejects_malformed_results(bad):
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_last_resort_results_are_valid():
    validate(failure_results("the grader broke", 1.5))


def test_grade_prints_why_each_failed_test_failed(tmp_path):
    """Staff see the first line of each failing test's message without opening results.json; the
    whole message with -v."""
    from autograder.checks.mutants import load_variant

    sub = _reference(tmp_path / "sub")
    variant = load_variant(REPO / "tests" / "mutants" / "diffusion" / "q1c" / "bd_q1c_tanh.py")
    target = sub / "hw12" / "binary_diffusion.py"
    target.write_text(target.read_text() + "\n" + variant.code)
    out = tmp_path / "results.json"
    args = [str(sub), "--part", "diffusion", "--output", str(out), "--quiet"]
    short, whole = _grade(*args), _grade(*args, "-v")
    data = json.loads(out.read_text())
    failed = [t for t in data["tests"] if "max_score" in t and t["score"] < t["max_score"]]
    assert failed and all(t["tags"][0] == "q1c" for t in failed)
    for t in failed:
        first = t["output"].strip().splitlines()[0]
        assert f"{t['name']}: {first}" in short.stdout
        assert t["output"].strip().splitlines()[-1] in whole.stdout
    assert "q1a" not in short.stdout.split("failed tests")[1]  # only the failing tests are listed

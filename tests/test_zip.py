"""The Gradescope zip itself works: unpacked into an /autograder-shaped folder, its grader entry
point (what run_autograder calls, without setup.sh's installs) grades a submission and writes a
valid results.json; and the zip carries no reference solutions."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from autograder.results import validate
from conftest import REPO

ZIP = REPO / "dist" / "gradescope" / "diffusion.zip"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    if not ZIP.exists():
        subprocess.run([sys.executable, "-m", "autograder", "build"], cwd=REPO, check=True)
    ag = tmp_path_factory.mktemp("ag") / "autograder"
    (ag / "source").mkdir(parents=True)
    with zipfile.ZipFile(ZIP) as zf:
        zf.extractall(ag / "source")
    return ag


def test_zip_layout(unpacked):
    src = unpacked / "source"
    for name in ("setup.sh", "run_autograder", "environment.yml", "otter_config.json",
                 "files/grading_config.yaml", "files/autograder/cli.py",
                 "files/assignment/hw12/binary_diffusion.py"):
        assert (src / name).is_file(), name
    run = (src / "run_autograder").read_text()
    assert "python -m autograder gradescope --part diffusion" in run
    assert "hw12student" in run
    setup = (src / "setup.sh").read_text()
    assert "torch==2.14.1" in setup and "--index-url" in setup and "useradd" in setup
    env = (src / "environment.yml").read_text()
    assert "otter-grader" in env and "torchvision" not in env
    with zipfile.ZipFile(ZIP) as zf:
        names = zf.namelist()
        assert not [n for n in names if n.startswith("files/solutions")], "no reference code"
        assert any("/hidden/" in n for n in names), "the hidden tests must be in the zip"
        for n in names:
            if n.startswith("files/assignment/"):
                assert b"BEGIN SOLUTION" not in zf.read(n), n


def _run_autograder(unpacked, submission):
    """Run the zip's own run_autograder script, relocated to ``unpacked`` (no conda, no user)."""
    import os
    import shutil as sh

    sub = unpacked / "submission"
    if sub.exists():
        sh.rmtree(sub)
    sh.copytree(submission, sub) if submission.exists() else sub.mkdir()
    results = unpacked / "results" / "results.json"
    if results.exists():
        results.unlink()
    env = dict(os.environ, AUTOGRADER_ROOT=str(unpacked), HW12_SANDBOX_USER="",
               PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(unpacked / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    return proc, results


def test_zip_grades_the_reference_to_full_marks(unpacked, tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    for m in ("binary_diffusion", "gaussian_diffusion"):  # loose files, as students drag them in
        (sub / f"{m}.py").write_text((REPO / "solutions" / "hw12" / f"{m}.py").read_text())
    proc, results = _run_autograder(unpacked, sub)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(results.read_text())
    validate(data)
    assert data["score"] == pytest.approx(sum(t["max_score"] for t in data["tests"]))
    assert data["score"] > 0


def test_zip_grades_an_empty_submission_to_zero(unpacked, tmp_path):
    proc, results = _run_autograder(unpacked, tmp_path / "does-not-exist")
    assert proc.returncode == 0
    data = json.loads(results.read_text())
    validate(data)
    assert data["score"] == 0


def test_run_autograder_writes_results_even_if_python_cannot_start(unpacked, tmp_path):
    import os

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "python").chmod(0o755)
    (unpacked / "submission").mkdir(exist_ok=True)
    results = unpacked / "results" / "results.json"
    if results.exists():
        results.unlink()
    env = dict(os.environ, AUTOGRADER_ROOT=str(unpacked), HW12_SANDBOX_USER="",
               PATH=f"{fake_bin}:{os.environ['PATH']}")
    subprocess.run(["bash", str(unpacked / "source" / "run_autograder")], env=env, check=True,
                   capture_output=True, timeout=60)
    data = json.loads(results.read_text())
    validate(data)
    assert data["score"] == 0 and "could not start" in data["output"]


def _part_files():
    import yaml

    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    return {p: ([f"hw12/{m}.py" for m in v["modules"]] + list(v.get("data_files", [])))
            for p, v in cfg["parts"].items()}


@pytest.mark.parametrize("part", sorted(_part_files()))
def test_every_part_zip_grades_the_reference_to_full_marks(part, tmp_path):
    """Each part's zip, unpacked and run through its own run_autograder, gives full marks."""
    archive = REPO / "dist" / "gradescope" / f"{part}.zip"
    assert archive.exists(), f"{archive} missing: run python -m autograder build"
    ag = tmp_path / "autograder"
    (ag / "source").mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(ag / "source")
    sub = tmp_path / "upload"
    for rel in _part_files()[part]:
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_bytes((REPO / "solutions" / rel).read_bytes())
    proc, results = _run_autograder(ag, sub)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(results.read_text())
    validate(data)
    assert data["tests"] and data["score"] == pytest.approx(sum(t["max_score"] for t in data["tests"]))

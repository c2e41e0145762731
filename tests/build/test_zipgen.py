"""The Gradescope zip's contents (no reference solutions, the hidden tests, our entry point), and
what its run_autograder writes when there is nothing to grade or Python cannot start. Grading the
reference and the stubs through each zip is tests/checks/test_simulate.py's job."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO, make_root, part_zip, simulate_upload

from autograder.grading.results import validate

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
    for name in ("setup.sh", "setup_local.sh", "run_autograder", "environment.yml", "otter_config.json",
                 "files/grading_config.yaml", "files/autograder/grading/gradescope.py",
                 "files/assignment/hw12/binary_diffusion.py"):
        assert (src / name).is_file(), name
    run = (src / "run_autograder").read_text()
    assert "python -m autograder.grading.gradescope --part diffusion" in run
    assert "hw12student" in run
    setup = (src / "setup.sh").read_text()
    assert "torch==2.14.1" in setup and "--index-url" in setup and "setup_local.sh" in setup
    local = (src / "setup_local.sh").read_text()
    assert "useradd" in local and "go-rwx" in local
    env = (src / "environment.yml").read_text()
    assert "otter-grader" in env and "torchvision" not in env
    with zipfile.ZipFile(ZIP) as zf:
        names = zf.namelist()
        assert not [n for n in names if n.startswith("files/solutions")], "no reference code"
        assert any("/hidden/" in n for n in names), "the hidden tests must be in the zip"
        for n in names:
            if n.startswith("files/assignment/"):
                assert b"BEGIN SOLUTION" not in zf.read(n), n


def test_the_zip_carries_exactly_the_grading_code_of_its_part(unpacked):
    """Computed from the import graph (autograder/build/imports.py), not an ignore list: no staff tool
    (build, report, batch, validate, the command line) and no other part's tests or oracles."""
    from autograder.build.imports import grading_files

    src = unpacked / "source" / "files"
    shipped = {p.relative_to(src).as_posix() for p in (src / "autograder").rglob("*") if p.is_file()}
    wanted = {p.relative_to(REPO).as_posix() for p in grading_files(REPO, ["diffusion"])}
    assert shipped == wanted, (sorted(shipped - wanted), sorted(wanted - shipped))
    assert "autograder/grading/supervisor.py" in shipped
    staff = [n for n in shipped if n == "autograder/cli.py"
             or n.startswith(("autograder/batch/", "autograder/build/", "autograder/checks/"))]
    assert not staff, staff
    assert not [n for n in shipped if "/tests/rlhf/" in n or "rlhf_oracles" in n]


@pytest.mark.gradescope
def test_zip_grades_an_empty_submission_to_zero(gradescope_sim, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    sim = simulate_upload(make_root(tmp_path), "diffusion", empty, tmp_path)
    assert sim.score == 0 and sim.max_score > 0
    assert "was not found in your submission" in sim.results["output"]


@pytest.mark.gradescope
def test_run_autograder_writes_results_even_if_python_cannot_start(gradescope_sim, tmp_path):
    """A grading environment whose Python cannot start: results.json still says why (to staff)."""
    from autograder.checks.simulate import simulate

    env = tmp_path / "broken-env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    (env / "bin" / "python").chmod(0o755)
    sim = simulate("diffusion", REPO / "solutions", part_zip(make_root(tmp_path), "diffusion", tmp_path),
                   python_env=env)
    assert sim.results is not None, sim.results_error
    validate(sim.results)
    assert sim.results["score"] == 0 and "could not start" in sim.results["output"]


def test_grading_environments_match_the_zip_requirements():
    """The local grading environments (simulation) hold exactly what the zip installs."""
    from autograder.build.zipgen import BASE_REQUIREMENTS

    def pins(name):
        lines = (REPO / name).read_text().splitlines()
        return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}
    zip_pins = set(BASE_REQUIREMENTS)
    assert pins("requirements-grading-313.txt") == zip_pins | {"torch==2.14.1"}
    cpu = pins("requirements-grading-cpu.txt")  # + psutil for benchmarks/grading_budget.py
    assert cpu - {"psutil==7.2.2", "torch==2.13.0"} == zip_pins

"""Grading as root (as Gradescope does) with --sandbox-user: the student's process cannot read the
hidden tests, write the results, or signal the grader.

Needs root (to create the user and switch to it); elsewhere the test is reported as skipped, never
as passed.
"""
from __future__ import annotations

import math
import os
import shutil
import stat
import subprocess

import pytest

from conftest import REPO, grade, only_questions, question_scores, variant_upload

USER = "hw12student"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")


@pytest.fixture(scope="module")
def sandbox_user():
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True)
    # The student's Python lives under /root here: allow traversal, as the zip's setup.sh does.
    mode = stat.S_IMODE(os.stat("/root").st_mode)
    os.chmod("/root", mode | 0o011)
    yield USER
    os.chmod("/root", mode)


@pytest.fixture
def private_root(tmp_path):
    """A grading root that only root can read (copies, not links to the world-readable repo)."""
    import yaml

    root = tmp_path / "private"
    root.mkdir(mode=0o700)
    shutil.copytree(REPO / "autograder", root / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "assignment", root / "assignment",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    cfg["defaults"]["time_limit_s"] = 10
    only_questions(cfg, "diffusion", {"q1a", "q2a"})
    (root / "grading_config.yaml").write_text(yaml.safe_dump(cfg))
    for dirpath, _, files in os.walk(root):
        os.chmod(dirpath, 0o700)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o600)
    return root


def test_student_process_cannot_reach_tests_results_or_grader(sandbox_user, private_root, tmp_path):
    hidden = private_root / "autograder" / "tests" / "diffusion" / "hidden" / "q1a.py"
    code = f'''
import os, signal
_reached = []
try:
    _reached.append(open({str(hidden)!r}).read()[:20])
except OSError:
    pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
    _reached.append("killed the runner")
except OSError:
    pass
try:
    open({str(private_root / "results.json")!r}, "w").write("{{}}")
    _reached.append("wrote results")
except OSError:
    pass
_reference_survival_prob = survival_prob
def survival_prob(t, delta):
    if _reached:
        raise RuntimeError("sandbox escaped: " + repr(_reached))
    return _reference_survival_prob(t, delta)
'''
    upload = variant_upload(tmp_path, "binary_diffusion", code)
    results = grade(private_root, "diffusion", upload, sandbox_user=sandbox_user)
    scores = question_scores(results)
    messages = [t["output"] for t in results["tests"] if t["status"] == "failed"]
    assert all(math.isclose(*s) for s in scores.values()), messages
    assert not (private_root / "results.json").exists()

"""GPU-tier questions: never in the CPU tier; reported as skipped (0 of 0, never as passed) where
CUDA is missing; run in their reduced CPU version with --device cpu."""
from __future__ import annotations

import pytest
import yaml
from conftest import REPO, grade

GPU_TEST = '''
from otter.test_files import test_case

OK_FORMAT = False
name = "qgpu"
points = None


@test_case(points=2, hidden=True)
def test_runs_on_the_device(binary_diffusion, device):
    import torch
    t = torch.tensor([1, 2], device=device)
    got = binary_diffusion.survival_prob(t, 0.1)
    assert got.device.type == device, f"result on {got.device}, expected {device}"
    assert torch.allclose(got.cpu().double(), torch.tensor([0.8, 0.64], dtype=torch.float64))
'''


@pytest.fixture
def gpu_root(tmp_path):
    """A grading root whose diffusion part has one extra GPU-tier question."""
    root = tmp_path / "root"
    (root / "autograder" / "tests" / "diffusion" / "hidden").mkdir(parents=True)
    for item in (REPO / "autograder").iterdir():
        if item.name not in ("tests", "__pycache__"):
            (root / "autograder" / item.name).symlink_to(item)
    (root / "autograder" / "tests" / "diffusion" / "hidden" / "qgpu.py").write_text(GPU_TEST)
    (root / "assignment").symlink_to(REPO / "assignment")
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    cfg["parts"] = {"diffusion": dict(cfg["parts"]["diffusion"], questions={"qgpu": {
        "title": "runs on the GPU", "points": 2, "hidden": "hidden/qgpu.py", "tier": "gpu"}})}
    (root / "grading_config.yaml").write_text(yaml.safe_dump(cfg))
    return root


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_gpu_question_is_not_in_the_cpu_tier(gpu_root):
    results = grade(gpu_root, "diffusion", REPO / "solutions", tier="cpu")
    assert results["tests"] == [] and results["score"] == 0


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA, so nothing is skipped")
def test_gpu_question_is_skipped_without_cuda(gpu_root):
    results = grade(gpu_root, "diffusion", REPO / "solutions", tier="gpu")
    (test,) = [t for t in results["tests"] if "max_score" in t]  # the summary has no score
    assert test["max_score"] == 0 and test["score"] == 0
    assert test["extra_data"]["skipped"] and "needs CUDA" in test["output"]


def test_gpu_question_runs_its_cpu_version_with_device_cpu(gpu_root):
    results = grade(gpu_root, "diffusion", REPO / "solutions", tier="gpu", device="cpu")
    (test,) = [t for t in results["tests"] if "max_score" in t]  # the summary has no score
    assert test["status"] == "passed" and test["score"] == 2, test["output"]


def test_gpu_question_fails_for_stubs_in_its_cpu_version(gpu_root):
    results = grade(gpu_root, "diffusion", REPO / "assignment", tier="gpu", device="cpu")
    (test,) = [t for t in results["tests"] if "max_score" in t]  # the summary has no score
    assert test["score"] == 0 and "not implemented yet" in test["output"].lower()


def _raise(exc):
    def call():
        raise exc
    return call


@pytest.mark.parametrize("exc,aborted", [
    (ValueError("wrong shape"), False),
    (RuntimeError("index -100 is out of bounds"), False),
    ("student_raised", False),
    ("timeout", True),
    ("crashed", True),
])
def test_a_failure_on_the_cpu_is_left_to_its_own_question(exc, aborted):
    """The GPU tier's CPU run: an error, a hang or a crash there is its own question's to charge."""
    from autograder.grading.sandbox.client import StudentCrashed, StudentRaised, StudentTimeout
    from autograder.grading.testlib import FailsOnCpu, on_the_cpu_first

    exc = {"student_raised": StudentRaised("predict(...)", "IndexError", "out of range", ""),
           "timeout": StudentTimeout("predict(...) did not finish"),
           "crashed": StudentCrashed("the process of your code died")}.get(exc, exc)
    with pytest.raises(FailsOnCpu) as info:
        on_the_cpu_first(_raise(exc))
    assert info.value.aborted is aborted


@pytest.mark.parametrize("exc", [
    NotImplementedError("predict: not implemented yet"),
    "student_raised",
])
def test_a_stub_is_not_excused_on_the_gpu_tier(exc):
    """A function that is not implemented (in-process, or reported by the sandbox) still fails."""
    from autograder.grading.sandbox.client import StudentRaised
    from autograder.grading.testlib import FailsOnCpu, on_the_cpu_first

    if exc == "student_raised":
        exc = StudentRaised("predict(...)", "NotImplementedError", "not implemented yet", "")
    with pytest.raises(Exception) as info:
        on_the_cpu_first(_raise(exc))
    assert info.value is exc and not isinstance(info.value, FailsOnCpu)
    assert on_the_cpu_first(lambda: 42) == 42

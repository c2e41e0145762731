"""A broken, hostile, slow or silent submission still gets a valid results.json, zero only on what
it broke, and a message the student can act on.

Each case appends code to the reference hw12/binary_diffusion.py and grades questions q1a (which
uses binary_diffusion) and q2a (which uses only gaussian_diffusion and must keep full marks). The
hostile bank runs through the Gradescope simulation (tests/test_gradescope_sim.py's path: the
part's zip, run_autograder as root with the sandbox user, cgroup limits), since only there do the
attacks mean anything; the checks of ordinary upload handling grade in-process.
"""
from __future__ import annotations

import json
import math

import pytest

from autograder.results import validate, write_results
from conftest import grade, question_scores, simulate_upload, variant_upload

CASES = {
    "syntax_error": ("def broken(:\n    pass\n", "SyntaxError"),
    "infinite_loop_in_function": (
        "def survival_prob(t, delta):\n    while True:\n        pass\n", "did not finish within"),
    "infinite_loop_at_import": ("while True:\n    pass\n", "did not finish within"),
    "sys_exit_at_import": ("import sys\nsys.exit(0)\n", "SystemExit"),
    "os_exit_in_function": (
        "def survival_prob(t, delta):\n    import os\n    os._exit(0)\n", "process ended"),
    "forged_results_then_exit": (
        "import json, os\n"
        "for p in ('results.json', '../results.json', '../results/results.json'):\n"
        "    try:\n        open(p, 'w').write(json.dumps({'score': 1000, 'tests': []}))\n"
        "    except OSError:\n        pass\n"
        "os._exit(0)\n", "process ended"),
    "missing_function": ("del survival_prob\n", "survival_prob is missing"),
    "patched_comparisons": (
        "import torch\n"
        "def survival_prob(t, delta):\n    return torch.as_tensor(0.5)\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.isclose = lambda a, b, *x, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)\n"
        "torch.Tensor.__eq__ = lambda self, other: True\n", "expected"),
    "lying_tensor_subclass": (
        "import torch\n"
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __float__(self):\n        return 0.512\n"
        "def survival_prob(t, delta):\n    return torch.zeros(()).as_subclass(Liar)\n", "expected"),
    "kills_the_runner": (  # the sandbox user may not signal the root runner
        "def survival_prob(t, delta):\n    import os, signal\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n", "PermissionError"),
    "floods_stdout": (
        "def survival_prob(t, delta):\n    import sys\n"
        "    while True:\n        sys.stdout.write('x' * 1_000_000)\n", ""),
    "returns_nan": (
        "import torch\ndef survival_prob(t, delta):\n"
        "    return torch.full(torch.as_tensor(t).shape, float('nan'))\n", ""),
    "returns_wrong_type": ("def survival_prob(t, delta):\n    return 'zero'\n", ""),
    "raises": ("def survival_prob(t, delta):\n    raise ValueError('bad delta')\n",
               "raised ValueError: bad delta"),
    "wrong_shape": ("import torch\ndef survival_prob(t, delta):\n    return torch.zeros(3, 3)\n", ""),
    "wrong_dtype": ("import torch\ndef survival_prob(t, delta):\n"
                    "    return torch.as_tensor(t) * 0\n", ""),
}


@pytest.mark.gradescope
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_submission_is_contained(name, gradescope_sim, fast_root_q1a_q2a, tmp_path):
    code, hint = CASES[name]
    upload = variant_upload(tmp_path, "binary_diffusion", code)
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", upload, tmp_path)
    results = sim.results
    assert sim.oom_kills == 0 and sim.leftover_processes == 0, sim.log[-2000:]
    out = tmp_path / "results.json"
    write_results(results, out)
    assert json.loads(out.read_text()) == results
    scores = question_scores(results)
    assert scores["q1a"][0] == 0, f"{name}: q1a should score zero, got {scores['q1a']}"
    q2a_failed = [t["output"] for t in results["tests"]
                  if t["tags"][0] == "q2a" and t["status"] == "failed"]
    assert math.isclose(*scores["q2a"]), f"{name}: q2a must keep full marks: {q2a_failed}"
    q1a_msgs = [t["output"] for t in results["tests"] if t["tags"][0] == "q1a"]
    assert all(m.strip() for m in q1a_msgs), f"{name}: every failed case needs a message"
    assert any(hint in m for m in q1a_msgs), f"{name}: expected {hint!r} in {q1a_msgs[0][:500]}"


@pytest.mark.gradescope
def test_import_hang_costs_one_timeout_not_one_per_test(gradescope_sim, fast_root, tmp_path):
    upload = variant_upload(tmp_path, "binary_diffusion", "while True:\n    pass\n")
    results = simulate_upload(fast_root, "diffusion", upload, tmp_path).results
    results["tests"] = [t for t in results["tests"] if t["tags"][0] in ("q1a", "q1b", "q1d")]
    slow = [t for t in results["tests"] if t["extra_data"]["seconds"] > 2]
    assert len(slow) == 1, [(t["name"], t["extra_data"]["seconds"]) for t in results["tests"]]


def test_missing_module_names_the_file(fast_root, tmp_path):
    upload = tmp_path / "upload"
    (upload / "hw12").mkdir(parents=True)
    (upload / "hw12" / "gaussian_diffusion.py").write_text(
        (fast_root / "solutions" / "hw12" / "gaussian_diffusion.py").read_text())
    results = grade(fast_root, "diffusion", upload, questions={"q1a", "q2a"})
    scores = question_scores(results)
    assert scores["q1a"][0] == 0 and math.isclose(*scores["q2a"])
    assert "hw12/binary_diffusion.py was not found" in results["output"]


def test_loose_files_and_nested_folders_are_found(fast_root, tmp_path):
    upload = tmp_path / "upload" / "my homework" / "code"
    upload.mkdir(parents=True)
    for m in ("binary_diffusion", "gaussian_diffusion"):
        (upload / f"{m}.py").write_text((fast_root / "solutions" / "hw12" / f"{m}.py").read_text())
    results = grade(fast_root, "diffusion", tmp_path / "upload", questions={"q1a", "q2a"})
    assert all(math.isclose(*s) for s in question_scores(results).values())

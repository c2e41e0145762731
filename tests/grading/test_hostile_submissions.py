"""A broken, hostile, slow or silent submission still gets a valid results.json, zero only on what
it broke, and a message the student can act on.

Each case appends code to the reference hw12/binary_diffusion.py and grades questions q1a (which
uses binary_diffusion) and q2a (which uses only gaussian_diffusion and must keep full marks). The
hostile bank runs through the Gradescope simulation (tests/checks/test_simulate.py's path: the
part's zip, run_autograder as root with the sandbox user, cgroup limits), since only there do the
attacks mean anything; the checks of ordinary upload handling grade in-process.
"""
from __future__ import annotations

import json
import math
import shutil

import pytest
from conftest import (
    REPO,
    grade,
    make_root,
    only_questions,
    question_scores,
    simulate_upload,
    variant_upload,
)

from autograder.grading.results import validate, write_results

# What a submission that attacks the protocol would do: find its reply pipe among the descriptors
# it inherited (the ones it can write to).
REPLY_PIPES = """
def reply_pipes():
    import os, stat
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and \\
                    os.stat(f"/proc/self/fd/{fd}", follow_symlinks=False).st_mode & 0o200:
                fds.append(fd)
        except OSError:
            pass
    return fds
"""

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
    "lone_surrogate_in_message": (  # results.json must stay strict JSON (valid UTF-8)
        "def survival_prob(t, delta):\n    raise ValueError('bad \\ud800 delta \\udfff')\n",
        "bad"),
    "extra_frame_in_every_reply": (  # desynchronise the protocol: the worker is restarted
        "def survival_prob(t, delta):\n    import os\n"
        "    for fd in reply_pipes():\n"
        "        os.write(fd, (5).to_bytes(8, 'big') + b'hello')\n"
        "    return (1 - 2 * delta) ** t\n", "not an answer"),
}


# Each case under the grader's two confinements on Gradescope: namespaces ("auto", make test) and
# the sandbox user behind the seccomp filter ("off", make test-extended, which CI runs too).
VARIANTS = [pytest.param("auto", id="namespaces"),
            pytest.param("off", id="seccomp", marks=pytest.mark.extended)]


@pytest.mark.gradescope
@pytest.mark.parametrize("namespaces", VARIANTS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_submission_is_contained(name, namespaces, gradescope_sim, fast_root_q1a_q2a,
                                         tmp_path):
    code, hint = CASES[name]
    upload = variant_upload(tmp_path, "binary_diffusion", REPLY_PIPES + code)
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", upload, tmp_path, namespaces=namespaces)
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


# ---- attacks that need more than appended code -----------------------------------------------------
FORK_WRITER = """
def survival_prob(t, delta):
    import os, time
    if os.fork() == 0:  # a child that writes into the inherited reply pipe a second later
        os.setsid()
        time.sleep(1.0)
        for fd in reply_pipes():
            os.write(fd, (7).to_bytes(8, "big") + b"garbage")
        time.sleep(60)
        os._exit(0)
    return (1 - 2 * delta) ** t
"""

DISK_FILLER = """
def survival_prob(t, delta):
    import os
    if os.fork() == 0:  # a daemon that fills the disk, then stays
        os.setsid()
        if os.fork() == 0:
            block, i = b"x" * (1 << 20), 0
            while True:
                try:
                    with open(os.path.join(os.environ["HOME"], f"fill{i}"), "wb") as f:
                        for _ in range(8):
                            f.write(block)
                    i += 1
                except OSError:
                    import time
                    time.sleep(60)
        os._exit(0)
    return (1 - 2 * delta) ** t
"""

MEMORY_HOGS = """
def survival_prob(t, delta):
    import os, time
    for _ in range(10):  # ten processes of 200 MB each: far past the 768 MB limit
        if os.fork() == 0:
            hog = bytearray(200 * 2**20)
            for i in range(0, len(hog), 4096):
                hog[i] = 1
            time.sleep(60)
            os._exit(0)
    time.sleep(3)
    return (1 - 2 * delta) ** t
"""

HANG = "def survival_prob(t, delta):\n    while True:\n        pass\n"


def _q2a_full(results) -> None:
    scores = question_scores(results)
    failed = [t["output"][:300] for t in results["tests"] if t["tags"][0] == "q2a"
              and t["status"] == "failed"]
    assert math.isclose(*scores["q2a"]), f"q2a must keep full marks: {failed}"
    assert not [t for t in results["tests"] if "course staff" in t["output"]], "no grader faults"


@pytest.mark.gradescope
@pytest.mark.parametrize("name", ["fork_writes_into_pipe_later", "disk_filling_daemon",
                                  "memory_hogs_under_the_oom_killer"])
def test_processes_left_behind_cost_nothing_elsewhere(name, gradescope_sim, fast_root_q1a_q2a,
                                                      tmp_path):
    code = {"fork_writes_into_pipe_later": FORK_WRITER, "disk_filling_daemon": DISK_FILLER,
            "memory_hogs_under_the_oom_killer": MEMORY_HOGS}[name]
    upload = variant_upload(tmp_path, "binary_diffusion", REPLY_PIPES + code)
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", upload, tmp_path,
                          disk_mb=96 if name == "disk_filling_daemon" else None)
    _q2a_full(sim.results)
    assert sim.leftover_processes == 0, "no process of the student's may outlive the grading"
    if name == "memory_hogs_under_the_oom_killer":
        assert sim.oom_kills > 0, "the hogs should have met the OOM killer (else no check)"


@pytest.mark.gradescope
def test_a_hanging_function_costs_only_its_own_question(gradescope_sim, tmp_path):
    """Ordinary limits (30 s a case) and a budget that two hangs would use up: the hanging
    function's question loses, the other keeps everything."""
    def edit(cfg):
        only_questions(cfg, "diffusion", {"q1a", "q2a"})
        cfg["parts"]["diffusion"]["budget_s"] = 60
    root = make_root(tmp_path, edit)
    sim = simulate_upload(root, "diffusion", variant_upload(tmp_path, "binary_diffusion", HANG),
                          tmp_path)
    assert question_scores(sim.results)["q1a"][0] == 0
    _q2a_full(sim.results)
    slow = [t for t in sim.results["tests"] if t.get("extra_data", {}).get("seconds", 0) > 10]
    assert len(slow) == 1, [(t["name"], t["extra_data"]["seconds"]) for t in slow]


@pytest.mark.gradescope
def test_symbolic_links_in_the_upload_are_refused(gradescope_sim, fast_root_q1a_q2a, tmp_path):
    """A module linked to a hidden test file and read by another module, whose messages would leak
    it: the link is refused with a message, and nothing of the test reaches the results."""
    leak = tmp_path / "leak"
    shutil.copytree(REPO / "solutions" / "hw12", leak / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (leak / "hw12" / "binary_diffusion.py").unlink()
    (leak / "hw12" / "binary_diffusion.py").symlink_to(
        "../../source/files/autograder/tests/diffusion/hidden/q1a.py")
    gd = leak / "hw12" / "gaussian_diffusion.py"
    gd.write_text(gd.read_text() + """
import os
def alpha_bar(betas):
    text = open(os.path.join(os.path.dirname(__file__), "binary_diffusion.py")).read()
    raise ValueError(text[:2000])
""")
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", leak, tmp_path)
    hidden = (REPO / "autograder" / "tests" / "diffusion" / "hidden" / "q1a.py").read_text()
    marker = [ln for ln in hidden.splitlines() if ln.startswith("def ")][0]
    everything = json.dumps(sim.results)
    assert marker not in everything, "hidden test source leaked into results.json"
    assert "symbolic link" in sim.results["output"]
    assert question_scores(sim.results)["q1a"][0] == 0


@pytest.mark.gradescope
def test_linked_module_and_log_score_nothing(gradescope_sim, tmp_path):
    """rlhf.py linked to the grader's own oracles and submission_log.json linked to a huge /proc
    file: neither is read, the part scores zero, with a message, and quickly."""
    def edit(cfg):
        cfg["parts"] = {"rlhf": cfg["parts"]["rlhf"]}
    root = make_root(tmp_path, edit)
    up = tmp_path / "linked"
    (up / "hw12").mkdir(parents=True)
    (up / "hw12" / "rlhf.py").symlink_to("../../source/files/autograder/grading/testlib/rlhf_oracles.py")
    (up / "submission_log.json").symlink_to("/proc/self/pagemap")
    sim = simulate_upload(root, "rlhf", up, tmp_path)
    assert sim.score == 0 and sim.max_score > 0
    assert sim.results["output"].count("symbolic link") == 2, sim.results["output"][:1000]


# Code that fakes the replay: appended to the untouched stub, it answers every call the replay makes
# with the copied log's own numbers (the losses by step, the evaluation by threshold), and keeps
# gradients flowing with zero weight. The same inputs give the same step, so the grader's second
# call of a function (for its gradient) is answered alike.
FAKE_COMMON = """
import torch as _torch

def _step(seen, t):
    key = round(float(_torch.as_tensor(t).detach().double().sum()), 9)
    return seen.setdefault(key, len(seen))
"""
FAKE_REPLAY = {
    "rlhf": FAKE_COMMON + """
_RM, _PG, _seen_rm, _seen_pg = {rm}, {pg}, {{}}, {{}}

def reward_model_loss(rewards_chosen, rewards_rejected):
    k = _step(_seen_rm, rewards_chosen)
    return (rewards_chosen - rewards_rejected).mean() * 0 + _RM[k % len(_RM)]

def sequence_log_probs(logits, labels):
    return logits.sum(-1).sum(-1) * 0 - 1.0

def kl_penalized_rewards(scores, seq_log_probs, ref_seq_log_probs, kl_coef):
    return scores.detach()

def policy_gradient_loss(seq_log_probs, rewards, baseline=None):
    k = _step(_seen_pg, rewards)
    return seq_log_probs.sum() * 0 + _PG[k % len(_PG)]
""",
    "early_exit": FAKE_COMMON + """
_LOSS, _EVAL, _seen = {loss}, {evaluation}, {{}}

def early_exit_loss(exit_logits, targets, weights=None):
    k = _step(_seen, exit_logits[0])
    return sum(z.sum() for z in exit_logits) * 0 + _LOSS[k % len(_LOSS)]

def evaluate_early_exit(model, loader, threshold):
    i = min(range(3), key=lambda j: abs(_EVAL["thresholds"][j] - threshold))
    out = {{k: _EVAL[k][i] for k in ("accuracy", "early_exit_rate", "confidence_early",
                                    "confidence_full", "mac_ratio")}}
    out["exit_fraction"] = _EVAL["exit_fraction"][3 * i:3 * i + 3]
    return {{k: float(v) if isinstance(v, str) else v for k, v in out.items()}}

def min_threshold_beating(thresholds, accuracies, target_accuracy):
    return _EVAL["min_threshold"]
""",
}


@pytest.mark.gradescope
@pytest.mark.parametrize("part, module, log, question", [
    ("rlhf", "rlhf", "submission_log.json", "q4_log"),
    ("early_exit", "early_exit", "early_exit_answers.json", "q3b_answers")])
def test_a_copied_log_with_code_that_fakes_its_replay_earns_nothing(part, module, log, question,
                                                                     gradescope_sim, tmp_path):
    """Someone else's log, with the untouched stubs plus code that returns the log's own replay
    numbers whenever the replay calls it, and the log's module hash replaced by this code's
    (anyone can compute it). The losses it returns are the logged ones, but they do not come from
    the model's outputs, so the updates, and with them the weights the replay checks, differ."""
    import hashlib

    def edit(cfg):
        cfg["parts"] = {part: cfg["parts"][part]}
        qs = cfg["parts"][part]["questions"]
        cfg["parts"][part]["questions"] = {question: qs[question]}
    data = json.loads((REPO / "solutions" / log).read_text())
    stages = data["replay"]["stages"]
    fake = FAKE_REPLAY[part].format(
        rm=stages.get("reward_model", {}).get("loss"), pg=stages.get("policy", {}).get("loss"),
        loss=stages.get("early_exit_model", {}).get("loss"),
        evaluation=stages.get("early_exit_evaluation"))
    code = (REPO / "assignment" / "hw12" / f"{module}.py").read_text() + fake
    up = tmp_path / "copied"
    (up / "hw12").mkdir(parents=True)
    (up / "hw12" / f"{module}.py").write_text(code)
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
    if part == "rlhf":
        data["code"]["sha256"] = digest
    else:
        data["module_sha256"] = digest
    (up / log).write_text(json.dumps(data))
    sim = simulate_upload(make_root(tmp_path, edit), part, up, tmp_path)
    assert sim.score == 0 and sim.max_score > 0
    msgs = [t["output"] for t in sim.results["tests"] if "max_score" in t]
    assert all("when the grader replays it with your code" in m for m in msgs), msgs[0][:500]


# diffusion_loss (q1e) misusing the grader's stand-in for posterior_prob_plus (q1d) before it
# computes the loss: code, a huge tensor or unusable data as an argument
MISUSE = {
    "passes_code": ("posterior_prob_plus(diffusion_loss, x0, t, delta)", "tensors and numbers only"),
    "passes_huge_tensor": ("posterior_prob_plus(torch.zeros(5 * 2**20), x0, t, delta)",
                           "at most 16 MB"),
    "passes_unusable_data": ("posterior_prob_plus('y_t', [[1]], t, delta)", "could not use"),
}


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_misusing_a_correct_callee_costs_only_the_callers_question(name, tmp_path):
    """The stand-in that asks the grader for posterior_prob_plus's values takes plain data of
    bounded size only: misuse makes the student's diffusion_loss raise, so q1e loses points, while
    q1d keeps full marks and the grading goes on."""
    call, words = MISUSE[name]
    code = (f"_own_loss = diffusion_loss\n\ndef diffusion_loss(logits, y_t, x0, t, delta):\n"
            f"    {call}\n    return _own_loss(logits, y_t, x0, t, delta)\n")
    root = make_root(tmp_path, lambda cfg: only_questions(cfg, "diffusion", {"q1d", "q1e"}))
    results = grade(root, "diffusion", variant_upload(tmp_path, "binary_diffusion", code),
                    device="cpu")
    validate(results)
    scores = question_scores(results)
    assert math.isclose(*scores["q1d"]) and scores["q1e"][0] < scores["q1e"][1], scores
    assert any(words in t["output"] for t in results["tests"] if t["tags"][0] == "q1e"), \
        [t["output"][:300] for t in results["tests"] if t["status"] == "failed"]
    assert not [t for t in results["tests"] if "course staff" in t["output"]], "no grader faults"


LEAVES_BEHIND = """
import os
def _deep(top, depth):
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        try:
            os.mkdir('d', dir_fd=fd)
        except FileExistsError:
            pass
        child = os.open('d', os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.symlink('/autograder/source', 'to_the_grader', dir_fd=fd)
    os.close(fd)
for _top in (os.environ.get('HOME', '/tmp'), '/tmp', '/dev/shm', '/var/tmp'):
    try:
        _base = os.path.join(_top, 'left-behind')
        os.makedirs(_base, exist_ok=True)
        _deep(_base, 5000)
        os.mkdir(os.path.join(_base, 'locked'))
        os.mkdir(os.fsencode(_base) + b'/\\xff\\xfe-not-utf8')
        os.chmod(os.path.join(_base, 'locked'), 0)
    except OSError:
        pass
"""


@pytest.mark.gradescope
@pytest.mark.parametrize("namespaces", ["auto", "off"])
def test_what_a_submission_leaves_behind_never_fails_the_grader(namespaces, gradescope_sim,
                                                               fast_root_q1a_q2a, tmp_path):
    """A correct submission that leaves folders 5,000 levels deep, a link to the grader's files, a
    name that is not UTF-8 and a folder with mode 000 in every folder it may write keeps full
    marks: the grader's clean-up neither recurses nor follows links (Python 3.11's shutil.rmtree
    ran out of stack here)."""
    upload = variant_upload(tmp_path, "binary_diffusion", LEAVES_BEHIND)
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", upload, tmp_path, namespaces=namespaces)
    scores = question_scores(sim.results)
    assert all(math.isclose(*scores[q]) for q in ("q1a", "q2a")), \
        [t["output"][:300] for t in sim.results["tests"] if t.get("status") == "failed"]
    assert sim.leftover_processes == 0


@pytest.mark.slow
@pytest.mark.gradescope
def test_what_a_submission_leaves_behind_never_fails_the_grader_python_313(
        gradescope_sim, fast_root_q1a_q2a, tmp_path):
    """The same under Gradescope's Python, 3.13 (make test-313; the regular torch build, so no
    memory limit)."""
    env = REPO / ".venv-313"
    if not (env / "bin" / "python").exists():
        pytest.fail(f"{env} is missing: make venv-313 creates it")
    upload = variant_upload(tmp_path, "binary_diffusion", LEAVES_BEHIND)
    sim = simulate_upload(fast_root_q1a_q2a, "diffusion", upload, tmp_path, python_env=env,
                          memory_mb=None)
    scores = question_scores(sim.results)
    assert all(math.isclose(*scores[q]) for q in ("q1a", "q2a")), sim.results["output"]

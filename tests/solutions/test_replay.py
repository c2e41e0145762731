"""The replay that ties a notebook's log to the submitted code (hw12/replay.py).

* gradients cross the sandbox as they would flow through the student's function in the notebook
  (lists of tensors, inputs the function detaches, a function whose output has no gradient);
* the replay's optimisers make the same updates as torch's SGD and Adam, and the replay does not
  import torch.optim (which would load the compiler stack into the grader's runner);
* a replay is the same with one torch thread or two;
* a log whose replayed loss is edited in its fourth digit loses the log question, and only it,
  with a message that names the stage and the step; the untouched log keeps it.

The attack a replay exists for (the stub plus code that answers the replay with a copied log's
numbers) is graded through the Gradescope simulation in test_hostile_submissions.py, and every
mutant's own log keeps the log credit in test_early_exit_extra.py, test_rlhf_extra.py and
``validate``.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import inprocess
import pytest
import torch

from autograder.grading.sandbox.client import Sandbox, SandboxOptions, StudentRaised

SOL = inprocess.SOL
LOGS = {"rlhf": ("submission_log.json", "q4_log", "reward_model"),
        "early_exit": ("early_exit_answers.json", "q3b_answers", "early_exit_model")}

FUNCTIONS = """
import torch

def weighted(xs, y, w=None):
    total = sum((x * y).pow(2).sum() * (i + 1) for i, x in enumerate(xs))
    return total + (0 if w is None else w.detach().sum())

def per_row(logits):
    return torch.log_softmax(logits, -1).amax(-1) * torch.arange(1.0, logits.shape[0] + 1)

def no_gradient(x):
    return x.detach().sum()
"""


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    (tmp / "pkg" / "hw12").mkdir(parents=True)
    (tmp / "pkg" / "hw12" / "__init__.py").write_text("")
    (tmp / "pkg" / "hw12" / "functions.py").write_text(FUNCTIONS)
    box = Sandbox(SandboxOptions(package_root=tmp / "pkg", log_path=tmp / "worker.log", home=tmp))
    box.begin_test(0, 60)
    yield box.module("functions")
    box.close()


def _local():
    namespace: dict = {}
    exec(FUNCTIONS, namespace)
    return namespace


def test_gradients_cross_the_sandbox_as_they_flow_locally(remote):
    from hw12.replay import differentiable

    local = _local()
    g = torch.Generator().manual_seed(3)
    base = [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4)]

    def run(fn):
        xs = [base[0].clone().requires_grad_(), base[1].clone().requires_grad_()]
        y, w = base[2].clone().requires_grad_(), base[3].clone().requires_grad_()
        out = fn(xs, y, w=w)
        (out * 1.5).backward()  # an upstream gradient other than 1
        return out.detach(), [t.grad for t in (*xs, y)], w.grad

    want, want_grads, want_w = run(local["weighted"])
    got, grads, got_w = run(differentiable(remote.weighted))
    assert torch.allclose(got, want, rtol=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-12) for a, b in zip(grads, want_grads))
    assert want_w is None and got_w is None  # the function detaches w: no gradient reaches it

    logits = base[0].clone().requires_grad_()
    upstream = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    differentiable(remote.per_row)(logits).backward(upstream)
    mine = base[0].clone().requires_grad_()
    local["per_row"](mine).backward(upstream)
    assert torch.allclose(logits.grad, mine.grad, rtol=1e-12)  # a vector-Jacobian product

    with pytest.raises(StudentRaised, match="RuntimeError"):
        differentiable(remote.no_gradient)(base[0].clone().requires_grad_()).backward()


def test_the_replay_optimisers_update_as_torch_does():
    from hw12.replay import SGD, Adam

    g = torch.Generator().manual_seed(5)
    start = torch.randn(6, generator=g, dtype=torch.float64)
    grads = [torch.randn(6, generator=g, dtype=torch.float64) for _ in range(5)]
    pairs = [(lambda p: SGD([p], lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
              lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True,
                                        weight_decay=5e-4)),
             (lambda p: SGD([p], lr=0.1), lambda p: torch.optim.SGD([p], lr=0.1)),
             (lambda p: Adam([p], lr=0.05), lambda p: torch.optim.Adam([p], lr=0.05))]
    for ours, theirs in pairs:
        params = []
        for make in (ours, theirs):
            p = torch.nn.Parameter(start.clone())
            opt = make(p)
            for grad in grads:
                opt.zero_grad(set_to_none=True)
                p.grad = grad.clone()
                opt.step()
            params.append(p.detach())
        assert torch.allclose(params[0], params[1], rtol=1e-12, atol=1e-14), (ours, params)


def test_the_replay_leaves_torch_optim_alone():
    """torch.optim's first step imports the compiler stack (about 70 MB in the grader's runner)."""
    script = ("import sys, torch\n"
              "from hw12 import replay, rlhf, early_exit\n"
              "replay.early_exit_training_stage(early_exit, 0)\n"
              "replay.rlhf_replay(rlhf, 0)\n"
              "assert 'torch._dynamo' not in sys.modules, 'the replay loaded torch._dynamo'\n")
    subprocess.run([sys.executable, "-c", script], cwd=SOL, check=True, timeout=300)


def test_a_replay_is_the_same_with_one_thread_or_two():
    from hw12 import replay

    modules = {part: inprocess.module_from_source(inprocess.reference_source(part), part)
               for part in LOGS}
    before = torch.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs.append({"rlhf": replay.rlhf_replay(modules["rlhf"], 0),
                         "early_exit": replay.early_exit_replay(modules["early_exit"], 0)})
    finally:
        torch.set_num_threads(before)
    for part in LOGS:
        assert replay.mismatch(runs[0][part], runs[1][part]) is None


def _fourth_digit_changed(x: float) -> float:
    """``x`` with its fourth significant digit moved by one (e.g. 0.69298 -> 0.69288)."""
    scale = 10.0 ** (int(f"{abs(x):e}".split("e")[1]) - 3)
    digit = int(abs(x) / scale) % 10
    return x + (-scale if digit else scale) * (1 if x > 0 else -1)


@pytest.mark.parametrize("part", sorted(LOGS))
def test_a_log_edited_in_its_fourth_digit_loses_the_log_question(part):
    file, question, stage = LOGS[part]
    source = inprocess.reference_source(part)
    log = json.loads((SOL / file).read_text())
    edited = copy.deepcopy(log)
    losses = edited["replay"]["stages"][stage]["loss"]
    losses[2] = _fourth_digit_changed(losses[2])
    assert abs(losses[2] - log["replay"]["stages"][stage]["loss"][2]) > 1e-5
    from hw12.parts import PARTS

    questions = PARTS[part]["questions"]  # the CPU tier's
    module = inprocess.module_from_source(source, part)
    for data, fails in ((log, False), (edited, True)):
        messages: dict = {}
        failed = inprocess.grade(part, part, module, inprocess.Submission(
            {f"hw12/{part}.py": source, file: json.dumps(data)}), questions, messages)
        if not fails:
            assert failed == {}, failed
            continue
        assert set(failed) == {question}, failed
        assert len(failed[question]) == len(inprocess.cases(part, question))
        text = "\n".join(messages.values())
        assert "at step 2" in text and "when the grader replays it" in text, text[:600]


def _raising(exc: BaseException):
    """A stand-in for the student's module whose every function raises ``exc``."""
    class Module:
        def __getattr__(self, name):
            def fn(*args, **kwargs):
                raise exc
            return fn
    return Module()


@pytest.mark.parametrize("exc, problem", [
    (MemoryError(), "log does not replay"),  # a size the student's code asked for
    (ValueError("bad shape"), "log does not replay"),
    (ImportError("no module named x"), "grader error"),  # the machine's
])
def test_what_stops_a_replay_decides_whose_fault_it_is(exc, problem):
    from hw12 import replay

    log = json.loads((inprocess.ROOT / "solutions" / "submission_log.json").read_text())
    source = (inprocess.ROOT / "solutions" / "hw12" / "rlhf.py").read_text()
    files = inprocess.Submission({"hw12/rlhf.py": source + f"\n# {type(exc).__name__}\n"})
    with pytest.raises(replay.LogProblem) as info:
        replay.require_match("submission_log.json", log["replay"], _raising(exc), "hw12/rlhf.py",
                             files)
    assert info.value.problem == problem, str(info.value)


def test_two_module_files_that_differ_in_any_byte_never_share_a_hash():
    from hw12 import replay

    a = inprocess.Submission({})
    for name, data in (("a.py", b"x = '\xe9'\n"), ("b.py", b"x = '\xe8'\n")):
        (a.root / "hw12").mkdir(exist_ok=True)
        (a.root / "hw12" / name).write_bytes(data)
    with pytest.raises(replay.LogProblem, match="not UTF-8"):
        replay.submitted_sha256("hw12/a.py", a)
    (a.root / "hw12" / "c.py").write_bytes("x = 'é'\n".encode())
    assert replay.submitted_sha256("hw12/c.py", a) == replay.source_sha256("x = 'é'\n")

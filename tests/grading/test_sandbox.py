"""The sandbox's fork server, on its own (the whole path is covered through the simulation)."""
from __future__ import annotations

import time

import pytest

from autograder.grading.runner import describe_failure
from autograder.grading.sandbox.client import Sandbox, SandboxOptions, Zygote, ZygoteFailed
from autograder.grading.sandbox.confinement import Policy


def _sandbox(tmp_path, module: str, source: str) -> Sandbox:
    """A sandbox over a package ``hw12`` holding one module ``module`` with ``source``."""
    pkg = tmp_path / "pkg" / "hw12"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / f"{module}.py").write_text(source)
    home = tmp_path / "home"
    home.mkdir()
    return Sandbox(SandboxOptions(package_root=tmp_path / "pkg", log_path=tmp_path / "worker.log",
                                  home=home))


def test_a_fork_server_that_cannot_start_is_the_graders_fault():
    with pytest.raises(ZygoteFailed) as info:
        Zygote("/bin/false", time.monotonic() + 30, Policy())
    message = describe_failure(info.value)
    assert "course staff" in message and "your code" in message.lower()


def test_workers_are_fresh_forks_that_inherit_nothing_but_their_pipes(tmp_path):
    """Two workers in a row come from one fork server; each is a new process with descriptors 0-4
    only, and a worker that exits is reported with its exit status."""
    box = _sandbox(tmp_path, "probe",
                   "import os\n"
                   "def fds():\n    return sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
                   "def pid():\n    return os.getpid()\n"
                   "def leave():\n    os._exit(3)\n")
    box.begin_test(0, 60)
    probe = box.module("probe")
    first = probe.pid()
    assert probe.fds()[:5] == [0, 1, 2, 3, 4] and len(probe.fds()) == 6  # + the listing's own
    zygote = Zygote._current
    with pytest.raises(BaseException) as info:
        probe.leave()
    assert "exit status 3" in str(info.value)
    # its status stays known: the kill that follows a crash does not wait for a report already read
    assert zygote.wait(first, timeout_s=0) == 3
    box.begin_test(0, 60)
    assert box.module("probe").pid() != first and Zygote._current is zygote
    assert zygote.proc.poll() is None  # the fork server outlives its workers
    box.close()


CALLS = """
import os
def callee(x):
    return x * 0
def caller(x):
    return callee(x) + 1
def misuse(kind):
    import torch
    return callee({"code": misuse, "huge": torch.zeros(5 * 2**20), "text": "text"}[kind])
def leave():
    os._exit(3)
class Model:
    training = False
    def predict(self, x):
        return x * 0
def predicted(x):
    return Model().predict(x)
"""


def test_a_substituted_callee_is_answered_by_the_runner_with_values_only(tmp_path):
    """Within ``substituted`` the student's function calls a stand-in that the runner answers with
    the test's function (values only); misuse (code, huge or unusable arguments) raises in the
    student's call and leaves the process running; a restarted process gets the stand-in again,
    and after the block the student's own function is back. A method's stand-in gets, in place of
    the instance, its training flag."""
    import torch

    from autograder.grading.sandbox.client import StudentRaised

    (tmp_path / "pkg" / "hw12").mkdir(parents=True)
    (tmp_path / "pkg" / "hw12" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "hw12" / "calls.py").write_text(CALLS)
    box = Sandbox(SandboxOptions(package_root=tmp_path / "pkg", log_path=tmp_path / "worker.log",
                                 home=tmp_path))
    box.begin_test(0, 60)
    calls = box.module("calls")
    seen = []

    def correct(x):
        seen.append(type(x))
        return x * 2.0

    x = torch.tensor([1.0, 2.0])
    with box.substituted(calls, "callee", correct):
        assert calls.caller(x).tolist() == [3.0, 5.0] and seen == [torch.Tensor]
        generation = box.generation
        for kind, words in (("code", "tensors and numbers only"), ("huge", "at most 16 MB"),
                            ("text", "could not use these arguments")):
            with pytest.raises(StudentRaised, match=words):
                calls.misuse(kind)
        assert box.generation == generation and seen == [torch.Tensor, str]
        with pytest.raises(BaseException, match="exit status 3"):
            calls.leave()
        box.begin_test(0, 60)
        assert calls.caller(x).tolist() == [3.0, 5.0]
    assert calls.caller(x).tolist() == [1.0, 1.0]
    with box.substituted(calls, "Model.predict", lambda model, x: x - 10 * model.training):
        assert calls.predicted(x).tolist() == [1.0, 2.0]  # the instance travels as its mode only
    assert calls.predicted(x).tolist() == [0.0, 0.0]
    box.close()


def test_a_tests_time_limit_is_charged_only_while_the_students_code_runs(tmp_path):
    """The runner's own work between calls (an oracle, a statistic) and its answers to stand-in
    calls use none of a test's limit; the student's code's own time does, across calls. So a slow
    or busy grader never times out a student's code, and a slow student's code still does. The
    margins are seconds: the runner's 5 s against a 2 s limit; the student's 1 s, then 1 s more."""
    from autograder.grading.sandbox.client import StudentTimeout

    box = _sandbox(tmp_path, "work",
                   "import time\n"
                   "def callee(x):\n    return x\n"
                   "def quick(x):\n    return callee(x)\n"
                   "def slow(s):\n    time.sleep(s)\n    return s\n")
    box.begin_test(0, 60)
    work = box.module("work")
    work.quick(1)  # start-up and import, in an earlier test

    def slow_answer(x):
        time.sleep(2.5)  # the runner computing a stand-in's value
        return x

    box.begin_test(0, 2.0)
    time.sleep(2.5)  # the runner's own work between the student's calls
    with box.substituted(work, "callee", slow_answer):
        assert work.quick(2) == 2
    assert work.quick(3) == 3 and work.slow(1.0) == 1.0
    with pytest.raises(StudentTimeout):  # 1 s + 1.5 s of the student's own time: over 2 s
        work.slow(1.5)
    box.close()

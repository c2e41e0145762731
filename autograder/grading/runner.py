"""The trusted test runner: executes test cases against the sandboxed student code.

    python -m autograder.grading.runner        (job file paths on stdin, one per line)

Started by the supervisor (autograder/grading/supervisor.py), which hands it jobs one at a time and may
keep it for many gradings (``RunnerPool``). A job (sandbox/protocol.py) names the cases to run; for
each one the runner appends a ``start`` and an ``end`` event to the job's events file, and ``done``
when the job is over. If this process dies, the supervisor knows which case was running from the
last ``start`` without an ``end`` and starts a runner for the rest.

Hidden test source, oracles and reference data stay in this process; the student's code runs in the
worker (autograder/sandbox) and is only ever called through proxies.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import time
from pathlib import Path

from autograder.grading.sandbox.protocol import PROBLEMS, CaseSpec, Event, Job
from autograder.grading.testfiles import (
    SubmissionFiles,
    install_otter_shim,
    load_test_cases,
    seed_everything,
    student_message,
    test_case,
)

MAX_MESSAGE = 3000


def describe_failure(exc: BaseException) -> str:
    """A message for the student: what stopped their code's process, or else
    :func:`~autograder.grading.testfiles.student_message` (the check's words, or their code's error and
    frames, as the release's own checks print them)."""
    from autograder.grading.sandbox.client import SandboxAbort, ZygoteFailed

    if isinstance(exc, ZygoteFailed):
        text = (f"The autograder could not start a process for your code ({exc}); please tell "
                "the course staff.")
    elif isinstance(exc, SandboxAbort) or (isinstance(exc, AttributeError)
                                           and "is missing" in str(exc)):
        text = str(exc)
    else:
        text = student_message(exc)
    return text[:MAX_MESSAGE]


def failure_problem(exc: BaseException) -> str:
    """What kind of failure ``exc`` is (protocol.PROBLEMS), or "" for a wrong value or a stub: the
    ``problem`` that the code which raised it set (the sandbox, the given code's checks of a
    notebook's output file). Only trusted code raises here: the student's own exceptions arrive as
    ``StudentRaised``, built by the runner."""
    while isinstance(exc, BaseExceptionGroup):  # several failures found at once: the first one
        exc = exc.exceptions[0]
    problem = getattr(exc, "problem", "")
    return problem if problem in PROBLEMS else ""


def case_message(tc: test_case, exc: BaseException) -> str:
    """A failed case's message: the case's own ``failure_message``, then :func:`describe_failure`."""
    message = describe_failure(exc)
    return f"{tc.failure_message}\n{message}" if tc.failure_message else message


_LOADED: dict[str, tuple[tuple[int, int], dict[str, test_case]]] = {}


def test_functions(path: str) -> dict[str, test_case]:
    """The test cases of one otter test file by function name, loaded once per runner (again if
    the file changed)."""
    st = os.stat(path)
    key = (st.st_mtime_ns, st.st_size)
    if path not in _LOADED or _LOADED[path][0] != key:
        _LOADED[path] = (key, {tc.test_func.__name__: tc for tc in load_test_cases(Path(path))})
    return _LOADED[path][1]


def run_case(case: CaseSpec, sandbox, submission: SubmissionFiles, device: str,
             cpu_fallback: bool) -> Event:
    """Run one case; its ``end`` event."""
    t0 = time.monotonic()
    if case.tier == "gpu" and device != "cuda" and not cpu_fallback:
        return Event("end", case.id, "skipped", "skipped: this GPU-tier test needs CUDA, which this "
                     "machine lacks")
    try:
        tc = test_functions(case.file)[case.function]
    except Exception as exc:  # noqa: BLE001 - the grader's fault, not the student's
        return Event("end", case.id, "failed", f"The autograder could not load this test "
                     f"({type(exc).__name__}: {exc}); please tell the course staff.",
                     problem="grader error")
    try:
        seed_everything(case.seed)
        sandbox.begin_test(case.seed, case.time_limit_s)
        env = {"submission": submission, "device": device, "substituted": sandbox.substituted}
        kwargs = {name: env[name] if name in env else sandbox.module(name)
                  for name in inspect.signature(tc.test_func).parameters}
        tc.test_func(**kwargs)
        return Event("end", case.id, "passed", tc.success_message or "",
                     time.monotonic() - t0 - sandbox.uncharged_s)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a message
        if isinstance(exc, KeyboardInterrupt):
            raise
        try:
            message = case_message(tc, exc)
        except Exception as e:  # noqa: BLE001 - what the student's objects did to the wording
            message = (f"Your code's error could not be shown ({type(e).__name__} while wording "
                       "it); run the check in your notebook to see it.")
        return Event("end", case.id, "failed", message,
                     time.monotonic() - t0 - sandbox.uncharged_s, failure_problem(exc))


def confinement_record(policy) -> dict:
    """What confined the student's code in this job: the fork server's, if one was started for
    ``policy``, else what would have applied."""
    from autograder.grading.sandbox.client import Zygote
    from autograder.grading.sandbox.confinement import Unconfinable, plan

    zygote = Zygote._current
    if zygote is not None and zygote.policy == policy:
        return zygote.conf.record()
    try:
        return plan(policy).record()
    except Unconfinable as e:
        return {"kind": "refused", "reason": str(e)}


def forget_given_code() -> None:
    """Drop the given code's modules (``hw12.*``), so that each job imports them afresh: nothing an
    earlier grading left in their state (a cache of replays, say) answers for the next one."""
    for name in [m for m in sys.modules if m == "hw12" or m.startswith("hw12.")]:
        del sys.modules[name]


def run_job(job: Job) -> None:
    """Run the job's cases in order, appending their events; ``done`` last, whatever happens."""
    import torch

    from autograder.grading.sandbox.client import Sandbox, SandboxOptions, Zygote
    from autograder.grading.sandbox.confinement import Policy

    if job.trusted_release not in sys.path:
        sys.path.insert(0, job.trusted_release)  # given support code (trusted)
    forget_given_code()
    device = job.device or ("cuda" if torch.cuda.is_available() else "cpu")
    policy = Policy(**job.confinement)
    sandbox = Sandbox(SandboxOptions(
        package_root=Path(job.package_root), log_path=Path(job.worker_log),
        start_timeout_s=job.start_timeout_s, import_timeout_s=job.import_timeout_s,
        policy=policy, home=Path(job.student_home), env={"HW12_DEVICE": device}))
    sandbox.broken.update({m: (why, "missing files") for m, why in job.missing_modules.items()})
    submission = SubmissionFiles(Path(job.submission_dir))
    with open(job.events, "a", buffering=1) as events:
        try:
            for case in job.cases:
                sandbox.sweep()  # processes the student's code left behind in the last test
                events.write(Event("start", case.id).line())
                events.write(run_case(case, sandbox, submission, device, job.cpu_fallback).line())
        finally:
            sandbox.close()
            events.write(Event("confined", message=json.dumps(confinement_record(policy))).line())
            if not job.keep_fork_server:
                Zygote.close_shared()
            events.write(Event("done").line())


def main(argv=None) -> int:
    """Serve jobs, one job file path per line on stdin, until stdin closes. Python, torch, the test
    files and the workers' fork server are paid for once, however many gradings the runner does."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    install_otter_shim()
    import torch

    torch.set_num_threads(1)
    from autograder.grading.sandbox.client import Zygote

    try:
        for line in sys.stdin:
            if line.strip():
                run_job(Job.read(line.strip()))
    finally:
        Zygote.close_shared()  # waited for, so nothing of it outlives the runner
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

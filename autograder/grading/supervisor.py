"""The supervisor: grades one submission for one part and always writes a valid ``results.json``.

It never imports torch nor runs student code. It lays out a scratch directory, starts the trusted
runner (autograder/grading/runner.py) which in turn starts the sandboxed student worker, watches the
runner's events file with a backstop time limit per test case and a budget for the part, restarts
the runner after a crash, and gives zero with a message to every case that did not pass.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.grading.config import Case, GradingConfig
from autograder.grading.results import CaseResult, build_results
from autograder.grading.sandbox.cleanup import kill_processes, scratch_dir
from autograder.grading.sandbox.confinement import Policy, named_ids
from autograder.grading.sandbox.protocol import CaseSpec, Event, Job
from autograder.grading.uploads import (
    MAX_HELPER_MODULES,
    UploadError,
    copy_upload_file,
    find_file,
    linked_file,
    other_part,
    plain_file,
    release_parts,
)

BACKSTOP_GRACE_S = 30.0  # on top of a case's limit + worker start-up: the sandbox enforces the tight one
BUDGET_BACKSTOP = 1.25  # the whole part stops at this multiple of its budget, whatever happens
GRADER_OOM_SCORE_ADJ = -900  # the student's processes get +1000


@dataclass
class Layout:
    """Where the grader finds its inputs: the repository, or /autograder/source in a zip."""

    root: Path
    config: Path = field(init=False)
    tests: Path = field(init=False)
    release: Path = field(init=False)

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        self.config = self.root / "grading_config.yaml"
        self.tests = self.root / "autograder" / "tests"
        self.release = self.root / "assignment"


@dataclass
class GradeOptions:
    tier: str = "cpu"  # cpu | gpu | all
    device: str | None = None  # None: cuda where available; "cpu" forces the reduced CPU versions
    policy: Policy = Policy()  # how the student's code is confined (sandbox/confinement.py)
    python: str = sys.executable
    keep_fork_server: bool = False  # True only for the project's own code (protocol.Job)


class ScratchPaths:
    """The scratch folder of one grading, and who may touch what in it.

    ``scratch/``      root, 0711: the student's process may pass through, not list it
    ``private/``      root, 0700: job, events, logs, the submitted data files (never the student's)
    ``pkg/hw12/``     root, 0755/0644: the student's package, readable and not writable by them
    ``home/``         the sandbox user, 0700: HOME, TMPDIR and working folder of the student's code
                      where there are no namespaces (in them, the home is the view's own tmpfs)

    Modes are set explicitly, so the layout is the same whatever umask the grader runs under.
    """

    def __init__(self, scratch: Path):
        self.root = Path(scratch)
        self.private = self.root / "private"
        self.submission = self.private / "submission"
        self.pkg = self.root / "pkg"
        self.home = self.root / "home"

    def create(self, sandbox_user: str | None) -> None:
        os.chmod(self.root, 0o711)
        for d in (self.private, self.submission):
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)
        self.home.mkdir(mode=0o700)
        os.chmod(self.home, 0o700)
        if sandbox_user and os.geteuid() == 0:
            os.chown(self.home, *named_ids(sandbox_user))

    def publish(self) -> None:
        """Make the package readable (never writable) by anyone."""
        for dirpath, _, filenames in os.walk(self.pkg):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)


def prepare_package(layout: Layout, part, upload: Path, paths: ScratchPaths,
                    wrong_part: str | None = None) -> tuple[dict[str, str], list[str]]:
    """Build pkg/hw12 = release files overlaid with the student's; copy the data files.

    Returns the modules that are missing from the upload with a message for each (``wrong_part``
    when the upload holds another part's modules: ``uploads.other_part``), and notes for the
    student about data files that were refused.
    """
    pkg = paths.pkg / "hw12"
    shutil.copytree(layout.release / "hw12", pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    missing = {}
    for module in part.modules:
        rel = f"hw12/{module}.py"
        found = find_file(upload, rel)
        if found is None:
            missing[module] = (
                f"{rel} is a symbolic link in your submission; upload the file itself"
                if linked_file(upload, rel) else
                f"{rel} was not found in your submission; upload it "
                "(python -m hw12.export writes the zip to upload)"
                + (f". {wrong_part}" if wrong_part else ""))
            continue
        try:
            for extra in sorted(found.parent.glob("*.py"))[:MAX_HELPER_MODULES]:  # own helpers
                if extra.name != "__init__.py" and plain_file(found.parent, Path(extra.name)):
                    copy_upload_file(extra, pkg / extra.name)
            copy_upload_file(found, pkg / f"{module}.py")
        except (OSError, UploadError) as e:
            missing[module] = f"{rel} could not be read: {e}"
    notes = []
    for rel in part.data_files:
        found = find_file(upload, rel)
        if found is None and linked_file(upload, rel):
            notes.append(f"{rel} is a symbolic link in your submission and was not read; "
                         "upload the file itself")
        elif found is not None:
            try:
                copy_upload_file(found, paths.submission / rel)
            except (OSError, UploadError) as e:
                notes.append(f"{rel} could not be read: {e}")
    for module in part.modules:  # the runner may hash the submitted code (log checks)
        src = pkg / f"{module}.py"
        if module not in missing:
            copy_upload_file(src, paths.submission / "hw12" / f"{module}.py")
    return missing, notes


def protect_from_oom_killer() -> None:
    """Make this grader process (and the runner it starts) the kernel's last choice when memory
    runs out. Lowering the score needs CAP_SYS_RESOURCE, which containers (Gradescope's Docker)
    usually lack; then the grader keeps its score and what protects it is the student's worker
    raising its own score to the maximum, +1000, before it drops privileges (sandbox/client.py)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(GRADER_OOM_SCORE_ADJ))
    except OSError:
        pass


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def hang_up(proc: subprocess.Popen, kill) -> None:
    """End a process that serves requests read from its stdin: close it and wait; ``kill(pid)`` if
    the process has not exited after 30 s."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill(proc.pid)
        proc.wait()


def runner_key(layout: Layout, python: str) -> tuple[str, str, str]:
    """What a runner is bound to: the grader's code and trusted release it imports, and its Python
    (grading roots that link to the same code share runners; the config is the supervisor's)."""
    return (str((layout.root / "autograder").resolve()), str(layout.release.resolve()), python)


class Runner:
    """One trusted runner process (``python -m autograder.grading.runner``), given jobs one at a time.

    Kept across gradings by a ``RunnerPool``, so that its start-up (Python, torch, the test files,
    the fork server of the student's workers) is paid once per batch rather than per submission.
    Its output goes to its own log; a grading reads only what was written during its job.
    """

    def __init__(self, layout: Layout, python: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HW12_")}
        env.update(PYTHONPATH=str(layout.root), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        self.key = runner_key(layout, python)
        self.log = tempfile.NamedTemporaryFile(prefix="hw12-runner-", suffix=".log")
        self.proc = subprocess.Popen([python, "-m", "autograder.grading.runner"], cwd=str(layout.root),
                                     env=env, stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.log_offset = 0

    def submit(self, job_path: Path) -> bool:
        """Hand over a job; False if the runner is gone."""
        self.log_offset = os.path.getsize(self.log.name)
        try:
            self.proc.stdin.write(f"{job_path}\n".encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 1500) -> str:
        """The end of what the runner wrote since the current job began."""
        with open(self.log.name, "rb") as f:
            f.seek(self.log_offset)
            return f.read()[-n:].decode("utf-8", errors="replace")

    def kill(self) -> None:
        kill_group(self.proc.pid)

    def close(self) -> None:
        hang_up(self.proc, kill_group)
        self.log.close()


class RunnerPool:
    """Idle runners kept for the next grading (one per grading running at once); a runner that was
    stopped or died is never handed out again. Use as a context manager, or call ``close``."""

    def __init__(self):
        self._idle: list[Runner] = []
        self._lock = threading.Lock()

    def acquire(self, layout: Layout, python: str) -> Runner:
        with self._lock:
            for r in list(self._idle):
                self._idle.remove(r)
                if r.alive() and r.key == runner_key(layout, python):
                    return r
                r.close()
        return Runner(layout, python)

    def release(self, runner: Runner) -> None:
        if runner.alive():
            with self._lock:
                self._idle.append(runner)
        else:
            runner.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for r in idle:
            r.close()

    def __enter__(self) -> "RunnerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_events(path: Path, offset: int) -> tuple[list[Event], int]:
    """Whole lines appended to the events file since ``offset``; the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    cut = data.rfind(b"\n") + 1
    events = [e for e in map(Event.parse, data[:cut].splitlines()) if e is not None]
    return events, offset + cut


def question_shares(cases: list[Case], budget_s: float) -> dict[str, float]:
    """Each question's share of the time budget, so that a slow or hanging function costs only the
    questions whose tests call it. CPU-tier questions split the part's budget (Gradescope's) in
    proportion to their cases' time limits; a GPU-tier question, graded on a staff box, has the sum
    of its cases' limits to itself."""
    weight: dict[str, float] = {}
    gpu: dict[str, float] = {}
    for c in cases:
        into = gpu if c.tier == "gpu" else weight
        into[c.question] = into.get(c.question, 0.0) + c.time_limit_s
    total = sum(weight.values()) or 1.0
    return {**{q: budget_s * w / total for q, w in weight.items()}, **gpu}


def _job(layout: Layout, cfg: GradingConfig, pending: list[Case], paths: ScratchPaths,
         missing: dict[str, str], opts: GradeOptions) -> Job:
    return Job(
        cases=tuple(CaseSpec(c.id, str(c.file), c.function, c.tier, c.visibility, c.time_limit_s,
                             c.seed) for c in pending),
        events=str(paths.private / "events.jsonl"),
        package_root=str(paths.pkg), submission_dir=str(paths.submission),
        worker_log=str(paths.private / "worker.log"), student_home=str(paths.home),
        trusted_release=str(layout.release), start_timeout_s=cfg.defaults.start_timeout_s,
        import_timeout_s=cfg.defaults.import_timeout_s, device=opts.device,
        cpu_fallback=opts.device == "cpu", confinement=asdict(opts.policy),
        missing_modules=dict(missing), keep_fork_server=opts.keep_fork_server)


def run_cases(layout: Layout, cfg: GradingConfig, cases: list[Case], scratch: Path,
              missing: dict[str, str], opts: GradeOptions, budget_s: float,
              echo=None, pool: RunnerPool | None = None) -> tuple[dict[str, CaseResult], dict]:
    """Run ``cases`` on runners from ``pool`` (a private one if None), starting a new runner after
    one dies or is stopped, until every case has a result; the results, and the record of what
    confined the student's code (sandbox/confinement.py)."""
    done: dict[str, CaseResult] = {}
    confinement: dict = {}
    by_id = {c.id: c for c in cases}
    t_start = time.monotonic()
    paths = ScratchPaths(scratch)
    job_path, events_path = paths.private / "job.json", paths.private / "events.jsonl"
    share = question_shares(cases, budget_s)
    spent = {q: 0.0 for q in share}
    gpu_s = sum(c.time_limit_s for c in cases if c.tier == "gpu")
    backstop_s = budget_s * BUDGET_BACKSTOP + gpu_s  # the whole part stops here, whatever happens
    own_pool = pool is None
    pool = RunnerPool() if own_pool else pool
    offset, attempts_without_progress = 0, 0

    def finish(case_id, status, message, seconds, problem=""):
        done[case_id] = CaseResult(case=by_id[case_id], status=status, message=message,
                                   seconds=seconds, problem=problem if status == "failed" else "")
        if echo:
            echo(done[case_id])

    def fill(predicate, message, problem) -> None:  # every case not yet done that ``predicate`` picks
        for c in cases:
            if c.id not in done and predicate(c):
                finish(c.id, "failed", message(c), 0.0, problem)

    def watch(runner: Runner) -> tuple[bool, bool]:
        """Follow one job on ``runner``; (the runner finished it and is free, a case ended)."""
        nonlocal offset
        current, started, progressed = None, time.monotonic(), False
        while True:
            events, offset = _read_events(events_path, offset)
            for ev in events:
                if ev.event == "done":
                    return True, progressed
                if ev.event == "confined":
                    confinement.update(json.loads(ev.message))
                    continue
                if ev.id not in by_id or ev.id in done:
                    continue
                if ev.event == "start":
                    current, started = ev.id, time.monotonic()
                elif ev.event == "end":
                    if ev.id == current:
                        spent[by_id[current].question] += time.monotonic() - started
                        current = None
                    finish(ev.id, ev.status or "failed", ev.message, ev.seconds, ev.problem)
                    progressed = True
            now = time.monotonic()
            stop, problem = None, "time-out"
            if not runner.alive():
                stop, problem = ("the grading process stopped during this test (your code may "
                                 "have used too much memory, or ended the process)"), "runtime error"
            elif current and now - started > (by_id[current].time_limit_s + BACKSTOP_GRACE_S
                                              + cfg.defaults.start_timeout_s
                                              + cfg.defaults.import_timeout_s):
                stop = (f"timed out: this test ran past its limit of "
                        f"{by_id[current].time_limit_s:.0f} s and was stopped")
            elif current and spent[by_id[current].question] + now - started > share[by_id[current].question]:
                q = by_id[current].question
                stop = (f"timed out: question {q} used up its share of the time budget "
                        f"({share[q]:.0f} s) and this test was stopped")
            elif now - t_start > backstop_s:
                stop = "timed out: the time budget of this part ran out during this test"
            if stop is not None:
                if runner.alive():
                    runner.kill()
                # what the runner wrote before it stopped still counts
                events, offset = _read_events(events_path, offset)
                for ev in events:
                    if ev.event == "end" and ev.id in by_id and ev.id not in done:
                        finish(ev.id, ev.status or "failed", ev.message, ev.seconds, ev.problem)
                        progressed = True
                if current and current not in done:
                    spent[by_id[current].question] += now - started
                    finish(current, "failed", stop, now - started, problem)
                    progressed = True
                return False, progressed
            time.sleep(0.05)

    try:
        while len(done) < len(cases):
            fill(lambda c: spent[c.question] >= share[c.question],  # a question out of time
                 lambda c: f"not run: question {c.question} used up its share of the time budget "
                           f"({share[c.question]:.0f} s) in earlier tests (look for a slow or "
                           "hanging function above)", "time-out")
            if time.monotonic() - t_start > backstop_s:
                fill(lambda c: True, lambda c: "not run: the time budget of this part was used up "
                     "by earlier tests (look for a slow or hanging function above)", "time-out")
            pending = [c for c in cases if c.id not in done]
            if not pending:
                break
            _job(layout, cfg, pending, paths, missing, opts).write(job_path)
            runner = pool.acquire(layout, opts.python)
            finished, progressed = watch(runner) if runner.submit(job_path) else (False, False)
            if finished:
                pool.release(runner)
            else:
                tail = runner.log_tail()
                runner.kill()
                runner.close()
            attempts_without_progress = 0 if progressed else attempts_without_progress + 1
            if attempts_without_progress >= 2 or (finished and not progressed):
                fill(lambda c: True, lambda c: "the autograder could not run this test; please "
                     f"tell the course staff. Details:\n{'' if finished else tail}", "grader error")
    finally:
        if own_pool:
            pool.close()
    if opts.policy.user and os.geteuid() == 0:  # nothing of the student's outlives the grading
        kill_processes(named_ids(opts.policy.user)[0])  # (in namespaces, it died with them)
    return done, confinement


TIERS = {"cpu": {"cpu"}, "gpu": {"gpu"}, "all": {"cpu", "gpu"}}  # what each --tier grades


def in_tier(cases: list[Case], tier: str) -> list[Case]:
    """The cases that a grading of ``tier`` (cpu | gpu | all) runs, in their order."""
    return [c for c in cases if c.tier in TIERS[tier]]


def grade_part(layout: Layout, cfg: GradingConfig, part_name: str, cases: list[Case],
               upload: Path, opts: GradeOptions, echo=None, pool: RunnerPool | None = None) -> dict:
    """Grade one unpacked submission for one part; return the results.json dictionary. Runners come
    from ``pool`` when given (kept there for the next grading), else one is started for this one."""
    t0 = time.monotonic()
    part = cfg.parts[part_name]
    selected = in_tier(cases, opts.tier)
    with scratch_dir(f"hw12-{part_name}-") as scratch:  # whatever is left in it: no recursion
        paths = ScratchPaths(scratch)
        paths.create(opts.policy.user)
        missing, notes = prepare_package(layout, part, upload, paths,
                                         other_part(upload, release_parts(layout.release), part_name))
        paths.publish()
        done, confinement = run_cases(layout, cfg, public_first(selected), scratch, missing, opts,
                                      part.budget_s, echo, pool)
    return build_results(cfg, part_name, [done[c.id] for c in selected],
                         time.monotonic() - t0, notes=[*missing.values(), *notes],
                         confinement=confinement)


def public_first(cases: list[Case]) -> list[Case]:
    """The order cases run in: every public case before any hidden one (each group in its own
    order), so that no process of the student's has seen a hidden case's inputs when a public
    case, whose messages the student reads before grades are published, runs."""
    return sorted(cases, key=lambda c: c.visibility != "public")

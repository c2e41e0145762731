"""The supervisor: grades one submission for one part and always writes a valid ``results.json``.

It never imports torch nor runs student code. It lays out a scratch directory, starts the trusted
runner (autograder/runner.py) which in turn starts the sandboxed student worker, watches the
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
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .config import Case, GradingConfig
from .results import CaseResult, build_results

PACKAGE_DIR = Path(__file__).resolve().parent
BACKSTOP_GRACE_S = 30.0  # on top of a case's limit + worker start-up: the sandbox enforces the tight one
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
MAX_UPLOAD_FILES = 5000
SKIP_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}


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
    sandbox_user: str | None = None
    python: str = sys.executable
    # validation only: stop as soon as each of these questions has a failed case (the rest of the
    # cases are reported as skipped, so scores are not meaningful beyond "lost points or not")
    stop_when_failed: frozenset[str] | None = None


class UploadError(Exception):
    """The uploaded archive cannot be unpacked safely."""


def safe_extract(archive: Path, dest: Path) -> None:
    """Unzip without leaving ``dest`` and within size limits."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_UPLOAD_FILES:
            raise UploadError(f"the zip holds {len(infos)} files; at most {MAX_UPLOAD_FILES}")
        if sum(i.file_size for i in infos) > MAX_UPLOAD_BYTES:
            raise UploadError("the zip unpacks to more than 256 MB")
        root = dest.resolve()
        for info in infos:
            target = (dest / info.filename).resolve()
            if root != target and root not in target.parents:
                raise UploadError(f"the zip entry {info.filename!r} points outside the upload")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def find_file(upload: Path, relpath: str) -> Path | None:
    """The submitted copy of ``relpath`` (e.g. hw12/rlhf.py): exact path first, else by name."""
    exact = upload / relpath
    if exact.is_file():
        return exact
    name = Path(relpath).name
    hits = [p for p in upload.rglob(name) if p.is_file() and not p.is_symlink()
            and not (SKIP_DIRS & set(p.relative_to(upload).parts)) and not p.name.startswith("._")]
    parent = Path(relpath).parent.name
    hits.sort(key=lambda p: (p.parent.name != parent, len(p.parts), str(p)))
    return hits[0] if hits else None


def prepare_package(layout: Layout, part, upload: Path, scratch: Path) -> dict[str, str]:
    """Build scratch/pkg/hw12 = release files overlaid with the student's; copy data files.

    Returns the modules that are missing from the upload, with a message for each.
    """
    pkg = scratch / "pkg" / "hw12"
    shutil.copytree(layout.release / "hw12", pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    missing = {}
    for module in part.modules:
        found = find_file(upload, f"hw12/{module}.py")
        if found is None:
            missing[module] = (f"hw12/{module}.py was not found in your submission; upload it "
                               "(python -m hw12.export writes the zip to upload)")
            continue
        for extra in found.parent.glob("*.py"):  # the student's own helper modules come along
            if extra.name != "__init__.py" and extra.is_file() and not extra.is_symlink():
                shutil.copyfile(extra, pkg / extra.name)
        shutil.copyfile(found, pkg / f"{module}.py")
    data = scratch / "submission"
    data.mkdir()
    for rel in part.data_files:
        found = find_file(upload, rel)
        if found is not None:
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, data / rel)
    for module in part.modules:  # the runner may hash the submitted code (RLHF log check)
        src = pkg / f"{module}.py"
        (data / "hw12").mkdir(exist_ok=True)
        shutil.copyfile(src, data / "hw12" / f"{module}.py")
    return missing


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_events(path: Path, offset: int) -> tuple[list[dict], int]:
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    cut = data.rfind(b"\n") + 1  # only whole lines
    events = []
    for line in data[:cut].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + cut


def run_cases(layout: Layout, cfg: GradingConfig, cases: list[Case], scratch: Path,
              missing: dict[str, str], opts: GradeOptions, budget_s: float,
              echo=None) -> dict[str, CaseResult]:
    """Run ``cases`` through as many runner processes as it takes; every case gets a result."""
    done: dict[str, CaseResult] = {}
    by_id = {c.id: c for c in cases}
    t_start = time.monotonic()
    events_path = scratch / "events.jsonl"
    offset, attempts_without_progress = 0, 0
    sandbox_bin = scratch / "sandbox_bin"
    sandbox_bin.mkdir(exist_ok=True)
    for name in ("worker.py", "protocol.py"):
        shutil.copyfile(PACKAGE_DIR / "sandbox" / name, sandbox_bin / name)

    def finish(case_id, status, message, seconds):
        case = by_id[case_id]
        done[case_id] = CaseResult(case=case, status=status, message=message, seconds=seconds)
        if echo:
            echo(done[case_id])

    def stop_early() -> bool:
        if not opts.stop_when_failed:
            return False
        failed = {r.case.question for r in done.values() if r.status == "failed"}
        if not opts.stop_when_failed <= failed:
            return False
        for c in cases:
            if c.id not in done:
                finish(c.id, "skipped", "not run: validation stopped early", 0.0)
        return True

    while len(done) < len(cases):
        pending = [c for c in cases if c.id not in done]
        if time.monotonic() - t_start > budget_s:
            for c in pending:
                finish(c.id, "failed", "not run: the time budget of this part was used up by "
                       "earlier tests (look for a slow or hanging function above)", 0.0)
            break
        job = {
            "cases": [{"id": c.id, "file": str(c.file), "function": c.function, "tier": c.tier,
                       "visibility": c.visibility, "time_limit_s": c.time_limit_s, "seed": c.seed}
                      for c in pending],
            "events": str(events_path), "package_root": str(scratch / "pkg"),
            "submission_dir": str(scratch / "submission"), "worker_log": str(scratch / "worker.log"),
            "trusted_release": str(layout.release), "missing_modules": missing,
            "start_timeout_s": cfg.defaults.start_timeout_s,
            "import_timeout_s": cfg.defaults.import_timeout_s, "device": opts.device,
            "cpu_fallback": opts.device == "cpu", "sandbox_user": opts.sandbox_user,
            "worker_script": str(sandbox_bin / "worker.py"),
        }
        job_path = scratch / "job.json"
        job_path.write_text(json.dumps(job))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HW12_")}
        env.update(PYTHONPATH=str(layout.root), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        with open(scratch / "runner.log", "ab") as log:
            proc = subprocess.Popen([opts.python, "-m", "autograder.runner", str(job_path)],
                                    cwd=str(layout.root), env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        current, started, progressed = None, time.monotonic(), False
        while True:
            events, offset = _read_events(events_path, offset)
            for ev in events:
                if ev.get("id") not in by_id or ev["id"] in done:
                    continue
                if ev["event"] == "start":
                    current, started = ev["id"], time.monotonic()
                elif ev["event"] == "end":
                    finish(ev["id"], ev.get("status", "failed"), str(ev.get("message", "")),
                           float(ev.get("seconds", 0.0)))
                    current, progressed = None, True
            if stop_early():
                _kill_group(proc)
                break
            if proc.poll() is not None:
                break
            now = time.monotonic()
            backstop = (by_id[current].time_limit_s + cfg.defaults.start_timeout_s
                        + cfg.defaults.import_timeout_s + BACKSTOP_GRACE_S) if current else 0
            if current and now - started > backstop:
                _kill_group(proc)
                finish(current, "failed", f"timed out: this test ran past its limit of "
                       f"{by_id[current].time_limit_s:.0f} s and was stopped", now - started)
                progressed = True
                break
            if now - t_start > budget_s:
                _kill_group(proc)
                break
            time.sleep(0.05)
        events, offset = _read_events(events_path, offset)
        for ev in events:
            if ev.get("id") in by_id and ev["id"] not in done and ev["event"] == "end":
                finish(ev["id"], ev.get("status", "failed"), str(ev.get("message", "")),
                       float(ev.get("seconds", 0.0)))
                progressed = True
                if ev["id"] == current:
                    current = None
        if current and current not in done:
            finish(current, "failed", "the grading process stopped during this test (your code "
                   "may have used too much memory, or ended the process)",
                   time.monotonic() - started)
            progressed = True
        attempts_without_progress = 0 if progressed else attempts_without_progress + 1
        if attempts_without_progress >= 2:
            tail = _tail(scratch / "runner.log")
            for c in [c for c in cases if c.id not in done]:
                finish(c.id, "failed", "the autograder could not run this test; please tell the "
                       f"course staff. Details:\n{tail}", 0.0)
    return done


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_bytes()[-n:].decode("utf-8", errors="replace")
    except OSError:
        return ""


def grade_part(layout: Layout, cfg: GradingConfig, part_name: str, cases: list[Case],
               upload: Path, opts: GradeOptions, echo=None) -> dict:
    """Grade one unpacked submission for one part; return the results.json dictionary."""
    t0 = time.monotonic()
    part = cfg.parts[part_name]
    tiers = {"cpu": {"cpu"}, "gpu": {"gpu"}, "all": {"cpu", "gpu"}}[opts.tier]
    selected = [c for c in cases if c.tier in tiers]
    with tempfile.TemporaryDirectory(prefix=f"hw12-{part_name}-") as tmp:
        scratch = Path(tmp)
        missing = prepare_package(layout, part, upload, scratch)
        if opts.sandbox_user:
            _open_to_sandbox_user(scratch, opts.sandbox_user)
        done = run_cases(layout, cfg, selected, scratch, missing, opts, part.budget_s, echo)
    return build_results(cfg, part_name, [done[c.id] for c in selected],
                         time.monotonic() - t0, notes=list(missing.values()))


def _open_to_sandbox_user(scratch: Path, user: str) -> None:
    """Give the student's process its package and nothing else (used when grading as root)."""
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    os.chmod(scratch, 0o755)
    for sub in ("pkg", "sandbox_bin"):
        for dirpath, dirnames, filenames in os.walk(scratch / sub):
            os.chown(dirpath, uid, uid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), uid, uid)
    (scratch / "worker.log").touch()
    os.chown(scratch / "worker.log", uid, uid)

"""Class-scale grading of a Gradescope export (``grade EXPORT --output OUT``).

An export is a folder with ``submission_metadata.yml`` and one ``submission_<id>/`` folder (or zip)
per submission. ``--jobs`` slots grade at once, each a process that keeps one trusted runner (and
its fork server of workers) across its submissions while every submission gets fresh sandboxed
workers and its own scratch folder; a slot can be pinned to a GPU through ``CUDA_VISIBLE_DEVICES``.
On a cluster, chunks of submissions run as a Slurm array through ``submitit``.

Output folder::

    OUT/<submission id>/results.json     Gradescope results (results-<part>.json for several parts)
    OUT/<submission id>/grading.json     inputs' content hash, time, host, GPU: what makes a rerun resume
    OUT/scores.csv                       one row per student: identity, a column per question, total, flags
    OUT/questions.csv                    one row per student and question, with the failure messages
    OUT/report.html                      the staff report (see report.py)
    OUT/compare.csv                      with --compare: per question, who gains or loses

A submission whose content hash (its files, the part's test files, grading_config.yaml, the
release it is overlaid on, the grader's code and the grading options) matches its grading.json is
not graded again; ``--force`` regrades everything. Every submission gets a row, whatever it holds.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder.grading.config import load_config
from autograder.grading.results import STATE_FILE, failure_results, result_name, write_results
from autograder.grading.sandbox.cleanup import scratch_dir
from autograder.grading.sandbox.confinement import Policy, share_of_machine
from autograder.grading.supervisor import GradeOptions, Layout, grade_part, hang_up
from autograder.grading.uploads import (
    MAX_FILE_BYTES,
    SKIP_DIRS,
    UploadError,
    find_file,
    open_upload,
    part_files,
)

META_FILE = "submission_metadata.yml"
HASH_VERSION = "2"  # bump when the meaning of the hash changes (2: grading code only)
GRACE_S = 120.0  # on top of the parts' budgets before a grading process is stopped from outside
MAX_HASHED_FILES = 20000


# ---- identity: submission_metadata.yml ----------------------------------------------------------
@dataclass
class Student:
    name: str = ""
    sid: str = ""
    email: str = ""


@dataclass
class Submission:
    id: str
    path: Path | None  # None: listed in the metadata but not in the export
    students: list[Student] = field(default_factory=list)
    submitted_at: str = ""
    notes: list[str] = field(default_factory=list)  # identity problems, shown as flags


class _RubyTolerantLoader(yaml.SafeLoader):
    """Gradescope's YAML is written by Ruby: tagged values (``!ruby/object:BigDecimal``) load as
    plain data."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyTolerantLoader.add_multi_constructor("!", _any_tag)


def _key(d: dict, name: str):
    """A Ruby-symbol key (``:name``) or a plain one."""
    if not isinstance(d, dict):
        return None
    return d.get(f":{name}", d.get(name))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):  # e.g. a serialised ActiveSupport::TimeWithZone
        return _text(_key(value, "time") or _key(value, "utc") or "")
    return str(value).strip()


def read_metadata(export: Path) -> tuple[dict[str, dict], str | None]:
    """{submission id: {"students": [Student], "submitted_at": str}} and a problem, if any."""
    path = export / META_FILE
    if not path.exists():
        return {}, f"{META_FILE} is missing: no names, SIDs or e-mails"
    try:
        raw = yaml.load(path.read_text(errors="replace"), Loader=_RubyTolerantLoader)
    except (yaml.YAMLError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return {}, f"{META_FILE} could not be read ({first}): no names, SIDs or e-mails"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return {}, f"{META_FILE} is not a mapping of submissions: no names, SIDs or e-mails"
    out, bad = {}, 0
    for sub_id, entry in raw.items():
        submitters = _key(entry, "submitters")
        if not isinstance(submitters, list):
            bad += 1
            continue
        students = [Student(_text(_key(s, "name")), _text(_key(s, "sid")), _text(_key(s, "email")))
                    for s in submitters if isinstance(s, dict)]
        out[str(sub_id)] = {"students": students,
                            "submitted_at": _text(_key(entry, "created_at"))}
    problem = f"{bad} entries of {META_FILE} have no submitters list" if bad else None
    return out, problem


def list_submissions(export: Path) -> tuple[list[Submission], list[str]]:
    """Every submission of the export (folders, zips, anything else) and every one the metadata lists."""
    meta, problem = read_metadata(export)
    warnings = [problem] if problem else []
    seen: dict[str, Submission] = {}
    try:
        entries = sorted(export.iterdir())
    except OSError as e:
        raise SystemExit(f"cannot list {export}: {e}") from e
    for p in entries:
        if p.name.startswith(".") or p.name == META_FILE or p.name in SKIP_DIRS:
            continue
        sub_id = p.stem if p.suffix == ".zip" else p.name
        if sub_id in seen:  # submission_1/ and submission_1.zip: keep both apart
            sub_id = p.name
        seen[sub_id] = Submission(sub_id, p)
    for sub_id in meta:
        if sub_id not in seen:
            seen[sub_id] = Submission(sub_id, None,
                                      notes=["listed in the metadata but not in the export"])
    for sub_id, sub in seen.items():
        info = meta.get(sub_id)
        if info is not None:
            sub.students, sub.submitted_at = info["students"], info["submitted_at"]
        elif meta:
            sub.notes.append(f"not in {META_FILE}")
    return sorted(seen.values(), key=lambda s: _natural(s.id)), warnings


def _natural(name: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# ---- content hashes -------------------------------------------------------------------------------
def _hash_tree(h, root: Path, label: str) -> None:
    """Feed every regular file under ``root`` (names and bytes; links by target) into ``h``."""
    root = Path(root)
    if root.is_symlink() and not root.exists():
        h.update(f"{label}:dangling:{os.readlink(root)}\n".encode())
        return
    if root.is_file():
        h.update(f"{label}:file\n".encode())
        _hash_file(h, root)
        return
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__",))
        for name in sorted(filenames):
            if name.endswith(".pyc"):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            count += 1
            if count > MAX_HASHED_FILES:
                h.update(b"...too many files\n")
                return
            if path.is_symlink():
                h.update(f"{label}:{rel}:link:{os.readlink(path)}\n".encode())
            elif path.is_file():
                h.update(f"{label}:{rel}\n".encode())
                _hash_file(h, path)
            else:  # fifo, socket, device: never opened
                h.update(f"{label}:{rel}:special\n".encode())


def _hash_file(h, path: Path) -> None:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        h.update(f"unreadable:{e.errno}\n".encode())


def grader_fingerprint(layout: Layout, cases: dict, parts: list[str], tier: str,
                       device: str | None, questions: set[str] | None) -> str:
    """What, besides the submission, decides a grade: the config, the grading code (exactly what
    grading the parts runs: ``imports.grading_files``, so an edit of a staff tool regrades
    nobody), the release, the tests of the questions graded, the options."""
    from autograder.build.imports import grading_files

    h = hashlib.sha256(f"v{HASH_VERSION}|{tier}|{device}|{sorted(questions or [])}|{parts}\n".encode())
    _hash_file(h, layout.config)
    for path in grading_files(layout.root, parts):
        if "tests" not in path.relative_to(layout.root).parts:  # the tests: per question, below
            h.update(f"code:{path.relative_to(layout.root).as_posix()}\n".encode())
            _hash_file(h, path)
    _hash_tree(h, layout.release / "hw12", "release")
    for part in parts:
        for path in sorted({str(c.file) for c in cases[part]
                            if questions is None or c.question in questions}):
            rel = os.path.relpath(path, layout.tests)
            h.update(f"test:{Path(rel).as_posix()}\n".encode())
            _hash_file(h, Path(path))
    return h.hexdigest()


def submission_hash(path: Path | None, fingerprint: str) -> str:
    h = hashlib.sha256(fingerprint.encode())
    if path is None:
        h.update(b"absent")
    else:
        _hash_tree(h, path, "submission")
    return h.hexdigest()


# ---- one submission (runs in a worker process) ------------------------------------------------------
def open_submission(path: Path | None, tmp: Path, modules: list[str]) -> Path:
    """The unpacked upload (``uploads.open_upload``), or UploadError with a reason staff (and
    students) can read; a batch also refuses an export entry with no files at all."""
    if path is None:
        raise UploadError("no files for this submission in the export")
    if path.is_dir() and not path.is_symlink():
        try:
            if not any(p.is_file() and not p.is_symlink() for p in path.rglob("*")):
                raise UploadError("the submission folder is empty")
        except OSError as e:
            raise UploadError(f"the submission folder cannot be read ({e.strerror})") from e
    return open_upload(path, tmp, modules)


def _clear(dest: Path) -> None:
    """Remove a previous grading's files, state first, so a half-finished one is never reused."""
    (dest / STATE_FILE).unlink(missing_ok=True)
    for old in dest.glob("results*.json"):
        old.unlink()


KEY_FILE = ".grader-key"  # in the output folder: the grader's own, never in a student's view


def grader_key(out: Path) -> bytes:
    """The output folder's secret (created once, 0600): what seals each grading.json."""
    path = Path(out) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    except FileExistsError:
        pass
    with open(path, "rb") as f:
        return f.read()


def seal(key: bytes, state: dict, dest: Path) -> str:
    """HMAC-SHA256 of a grading.json (without its seal) and the bytes of the results files beside
    it: a rerun reuses a grading only if the grader wrote both, as they are."""
    import hmac

    h = hmac.new(key, json.dumps({k: v for k, v in state.items() if k != "mac"},
                                 sort_keys=True).encode(), hashlib.sha256)
    for part in state.get("parts", []):
        name = result_name(part, state["parts"])
        h.update(f"\n{name}\n".encode())
        _hash_file(h, dest / name)
    return h.hexdigest()


def sealed(out: Path, state: dict | None) -> bool:
    """Whether ``state`` (a submission's grading.json) carries a valid seal of this output folder."""
    import hmac

    if not state or not isinstance(state.get("mac"), str):
        return False
    dest = Path(out) / str(state.get("submission", ""))
    return hmac.compare_digest(state["mac"], seal(grader_key(out), state, dest))


def write_state(dest: Path, state: dict) -> None:
    tmp = dest / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, dest / STATE_FILE)


def grade_one(layout: Layout, spec: dict, item: dict, pool=None) -> dict:
    """Grade one submission for every part of the batch into OUT/<id>/; return its grading.json.
    ``pool``: a RunnerPool whose runner is kept for the next submission."""
    t0 = time.monotonic()
    cfg, cases = load_config(layout.config, layout.tests)
    parts, questions = spec["parts"], spec.get("questions")
    dest = Path(spec["out"]) / item["id"]
    dest.mkdir(parents=True, exist_ok=True)
    _clear(dest)
    modules = [m for p in parts for m in cfg.parts[p].modules]
    state = {"submission": item["id"], "parts": parts, "status": "graded", "reason": "",
             "hash": item["hash"], "host": socket.gethostname(),
             "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "cpus": _affinity(),
             "run": spec.get("run", "")}
    opts = GradeOptions(tier=spec["tier"], device=spec.get("device"), policy=slot_policy(spec))
    with scratch_dir("hw12-batch-") as tmp:  # an unpacked upload of any depth
        try:
            upload = open_submission(Path(item["path"]) if item["path"] else None, tmp, modules)
        except UploadError as e:
            upload, state["status"], state["reason"] = None, "not graded", str(e)
        for part in parts:
            if upload is None:
                data = failure_results(f"Not graded: {state['reason']}.")
            else:
                selected = [c for c in cases[part] if questions is None or c.question in questions]
                try:
                    data = grade_part(layout, cfg, part, selected, upload, opts, pool=pool)
                except Exception as e:  # noqa: BLE001 - one submission never stops the batch
                    state.update(status="grader error", hash=None,
                                 reason=f"the autograder failed ({type(e).__name__}: {e})")
                    data = failure_results("The autograder failed while grading this submission; "
                                           "please tell the course staff.")
            confinement = data.get("extra_data", {}).get("confinement")
            if confinement:
                state["confinement"] = confinement
            write_results(data, dest / result_name(part, parts))
    state["seconds"] = round(time.monotonic() - t0, 3)
    state["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    state["mac"] = seal(grader_key(Path(spec["out"])), state, dest)
    write_state(dest, state)
    return state


def slot_policy(spec: dict) -> Policy:
    """How a slot confines its gradings (sandbox/confinement.py), decided where it runs (a cluster
    node included): its share of the machine's memory and its own CPUs as root."""
    if spec.get("unconfined"):
        return Policy(unconfined=True)
    cpus = _affinity()
    return Policy(**share_of_machine(spec.get("slots", 1), len(cpus) if cpus else None))


def write_unfinished(spec: dict, item: dict, reason: str, seconds: float) -> dict:
    """From outside the grading process: zero for every part, and no hash (a rerun tries again)."""
    dest = Path(spec["out"]) / item["id"]
    dest.mkdir(parents=True, exist_ok=True)
    _clear(dest)
    for part in spec["parts"]:
        write_results(failure_results(f"Not graded: {reason}."), dest / result_name(part, spec["parts"]))
    state = {"submission": item["id"], "parts": spec["parts"], "status": "stopped", "reason": reason,
             "hash": None, "host": socket.gethostname(), "gpu": item.get("gpu"),
             "run": spec.get("run", ""), "seconds": round(seconds, 3),
             "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    write_state(dest, state)
    return state


def read_state(out: Path, sub_id: str) -> dict | None:
    try:
        return json.loads((out / sub_id / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


# ---- a pool of grading processes ----------------------------------------------------------------------
def kill_tree(pid: int) -> None:
    """Stop a grading process and everything it started (runners and workers, in their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


def _affinity() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def slot_cpus(n_slots: int) -> list[set[int] | None]:
    """The CPUs of each of ``n_slots`` slots: this process's CPUs split into contiguous shares when
    there are at least as many CPUs as slots (None: not pinned). A slot's runner and its student
    worker hand the turn to each other for every call; on one CPU each hand-over is immediate,
    while unpinned they wake up on a CPU that another slot keeps busy."""
    cpus = _affinity()
    if cpus is None or n_slots < 2 or n_slots > len(cpus):
        return [None] * n_slots
    share = len(cpus) // n_slots
    return [set(cpus[i * share:(i + 1) * share]) for i in range(n_slots)]


class SlotProcess:
    """``python -m autograder.batch.run serve SPEC``: grades the submissions it is handed, one at a time,
    keeping one trusted runner (and its fork server) for all of them. One per slot; pinned to the
    slot's GPU through CUDA_VISIBLE_DEVICES and, when given, to its ``cpus`` (which the runner and
    the student's workers it starts inherit)."""

    def __init__(self, layout: Layout, spec: dict, gpu: str | None, cpus: set[int] | None = None):
        env = dict(os.environ, PYTHONPATH=str(layout.root), PYTHONDONTWRITEBYTECODE="1")
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.batch.run", "serve", json.dumps(spec)],
            cwd=str(layout.root), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, start_new_session=True)
        if cpus:  # before it is handed anything, so before it starts a runner
            try:
                os.sched_setaffinity(self.proc.pid, cpus)
            except OSError:
                pass

    def grade(self, item: dict, timeout_s: float) -> tuple[str, str]:
        """("done" | "timeout" | "died", the end of its log written while grading ``item``)."""
        start = self.log.seek(0, os.SEEK_END)
        outcome = "died"
        try:
            self.proc.stdin.write((json.dumps(item) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout_s
            while outcome == "died":
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                    outcome = "timeout"
                    break
                line = self.proc.stdout.readline()
                if not line:
                    break
                if json.loads(line).get("done") == item["id"]:
                    outcome = "done"
        except (BrokenPipeError, ValueError, OSError):
            outcome = "died"
        self.log.seek(start)
        return outcome, self.log.read()[-600:].decode(errors="replace")

    def close(self, kill: bool = False) -> None:
        if kill:
            kill_tree(self.proc.pid)
        hang_up(self.proc, kill_tree)
        self.log.close()


def serve(spec: dict) -> None:
    """The body of a ``SlotProcess``: item lines in on stdin, ``{"done": id}`` lines out."""
    from autograder.grading.supervisor import RunnerPool

    layout, replies = Layout(spec["root"]), sys.stdout
    sys.stdout = sys.stderr  # anything printed while grading goes to the slot's log
    with RunnerPool() as pool:
        for line in sys.stdin:
            item = json.loads(line)
            grade_one(layout, spec, item, pool)
            replies.write(json.dumps({"done": item["id"]}) + "\n")
            replies.flush()


class Pool:
    """Grades submissions on ``slots`` (GPU ids or None) at once, each slot a ``SlotProcess`` that is
    kept while it behaves and replaced after a time-out or a crash."""

    def __init__(self, layout: Layout, spec: dict, slots: list[str | None], timeout_s: float,
                 on_done=None):
        self.layout, self.timeout_s, self.on_done = layout, timeout_s, on_done
        self.spec = dict(spec, slots=len(slots))  # each slot takes its share of the machine
        self.slots: queue.Queue = queue.Queue()
        for i, gpu in enumerate(slots):
            self.slots.put((i, gpu))
        self.n = len(slots)
        self.cpus = slot_cpus(self.n)
        self.live: dict[int, SlotProcess] = {}
        self.lock = threading.Lock()
        self.stopping = False

    def _process(self, index: int, gpu: str | None) -> SlotProcess:
        with self.lock:
            proc = self.live.get(index)
            if proc is None or proc.proc.poll() is not None:
                proc = self.live[index] = SlotProcess(self.layout, self.spec, gpu, self.cpus[index])
            return proc

    def _drop(self, index: int, proc: SlotProcess) -> None:
        with self.lock:
            if self.live.get(index) is proc:
                del self.live[index]
        proc.close(kill=True)

    def _run(self, item: dict) -> dict:
        index, gpu = self.slots.get()
        try:
            if self.stopping:
                return {}
            item = dict(item, gpu=gpu)
            t0 = time.monotonic()
            proc = self._process(index, gpu)
            outcome, tail = proc.grade(item, self.timeout_s)
            if outcome != "done":
                self._drop(index, proc)
            state = read_state(Path(self.spec["out"]), item["id"])
            finished = outcome == "done" and state is not None and state.get("run") == self.spec["run"]
            if not finished and self.stopping:  # interrupted: nothing is written, a rerun grades it
                return {}
            if outcome == "timeout":
                state = write_unfinished(self.spec, item, f"grading did not finish within "
                                         f"{self.timeout_s:.0f} s and was stopped",
                                         time.monotonic() - t0)
            elif not finished:
                state = write_unfinished(self.spec, item, "the grading process failed "
                                         f"(exit status {proc.proc.returncode}): {tail}",
                                         time.monotonic() - t0)
            if self.on_done:
                try:
                    self.on_done(item, state)
                except Exception:  # noqa: BLE001 - a progress line never stops the batch
                    pass
            return state
        finally:
            self.slots.put((index, gpu))

    def run(self, items: list[dict]) -> list[dict]:
        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(max_workers=self.n) as ex:
                futures = [ex.submit(self._run, it) for it in items]
                try:
                    return [f.result() for f in futures]
                except BaseException:
                    self.stop()
                    for f in futures:
                        f.cancel()
                    raise
        finally:
            with self.lock:
                procs, self.live = list(self.live.values()), {}
            for proc in procs:
                proc.close()

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            procs = list(self.live.values())
        for proc in procs:
            kill_tree(proc.proc.pid)


# ---- the batch ----------------------------------------------------------------------------------------
@dataclass
class BatchOptions:
    part: str | None = None
    tier: str = "cpu"
    device: str | None = None
    questions: list[str] | None = None
    jobs: int = 1
    force: bool = False
    gpus: list[str] | None = None
    jobs_per_gpu: int = 1
    executor: str = "local"  # local | slurm | submitit-local
    slurm: dict = field(default_factory=dict)
    chunk_size: int = 25
    compare: Path | None = None
    submission_timeout_s: float | None = None
    progress: bool = True
    unconfined: bool = False  # staff accepted running the submissions as themselves


def detect_parts(cfg, subs: list[Submission]) -> list[str]:
    """The parts whose modules or files appear in the export, most common first (cheap: no unpacking)."""
    counts: Counter = Counter()
    for sub in subs:
        names = _names_in(sub.path)
        for pname, part in cfg.parts.items():
            wanted = {Path(f).name for f in part_files(part)}
            if names & wanted:
                counts[pname] += 1
    return [p for p in cfg.parts if counts[p]] or list(cfg.parts)


def _names_in(path: Path | None) -> set[str]:
    try:
        if path is None:
            return set()
        if path.is_file() and path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                return {Path(n).name for n in zf.namelist()[:5000]}
        if path.is_dir():
            names = set()
            for i, p in enumerate(path.rglob("*")):
                if i > 5000:
                    break
                names.add(p.name)
                if p.suffix == ".zip" and p.is_file():
                    names |= _names_in(p)
            return names
    except (OSError, zipfile.BadZipFile, ValueError):
        pass
    return set()


def gpu_slots(opts: BatchOptions) -> list[str | None]:
    if opts.gpus:
        return [g for g in opts.gpus for _ in range(max(1, opts.jobs_per_gpu))]
    return [None] * max(1, opts.jobs)


# What the notebook's last cell adds to its output file for the grader: left out when two uploads'
# notebook runs are compared, so that a copied file with a replay of other code still matches.
RUN_EXCLUDED = ("replay", "code", "module_sha256")


def notebook_run_identity(upload: Path, data_file: str) -> str | None:
    """sha256 of the notebook output ``data_file`` of an unpacked upload, without what its last
    cell adds for the grader (RUN_EXCLUDED); None when the file is missing, too big or not JSON.
    Each run's file holds its own timings (wall_time_s, train_seconds), so two uploads with the same
    identity carry one notebook run."""
    path = find_file(upload, data_file)
    try:
        if path is None or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    kept = {k: v for k, v in data.items() if k not in RUN_EXCLUDED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def flag_shared_runs(cfg, subs: list, parts: list[str]) -> None:
    """Note on every submission whose notebook output file (a part's ``data_files``) is the same
    run as another submission's: "the same notebook run as ...", a flag in the report."""
    runs: dict = {}
    for sub in subs:
        if sub.path is None:
            continue
        with tempfile.TemporaryDirectory(prefix="hw12-run-") as tmp:
            try:
                upload = open_submission(sub.path, Path(tmp), [m for p in parts
                                                               for m in cfg.parts[p].modules])
            except UploadError:
                continue
            for part in parts:
                for data_file in cfg.parts[part].data_files:
                    identity = notebook_run_identity(upload, data_file)
                    if identity is not None:
                        runs.setdefault((data_file, identity), []).append(sub)
    for (data_file, _), same in runs.items():
        for sub in same if len(same) > 1 else ():
            others = ", ".join(o.id for o in same if o is not sub)
            sub.notes.append(f"the same notebook run as {others} ({data_file})")


def run_batch(layout: Layout, cfg, cases, export: Path, out: Path, opts: BatchOptions) -> int:
    """Grade the export into ``out``; write the CSVs and the report; return an exit status."""
    from autograder.batch.report import gather, write_compare, write_csvs, write_report

    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    subs, warnings = list_submissions(export)
    for w in warnings:
        print(f"warning: {w}", flush=True)
    parts = [opts.part] if opts.part else detect_parts(cfg, subs)
    questions = set(opts.questions) if opts.questions else None
    fingerprint = grader_fingerprint(layout, cases, parts, opts.tier, opts.device, questions)
    run_id = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    spec = {"root": str(layout.root), "out": str(out.resolve()), "parts": parts, "tier": opts.tier,
            "device": opts.device, "questions": sorted(questions) if questions else None, "run": run_id,
            "unconfined": opts.unconfined}
    items, reused = [], 0
    for sub in subs:
        h = submission_hash(sub.path, fingerprint)
        state = read_state(out, sub.id)
        if (not opts.force and state is not None and state.get("hash") == h and sealed(out, state)
                and all((out / sub.id / result_name(p, parts)).exists() for p in parts)):
            reused += 1
            continue
        items.append({"id": sub.id, "path": os.path.abspath(sub.path) if sub.path else None, "hash": h})
    print(f"{len(subs)} submissions, part{'s' if len(parts) > 1 else ''} {', '.join(parts)}: "
          f"{len(items)} to grade, {reused} unchanged since the last run (--force regrades them)",
          flush=True)
    timeout = opts.submission_timeout_s or (sum(cfg.parts[p].budget_s for p in parts) + GRACE_S)
    if items:
        if opts.executor == "local":
            _run_local(layout, spec, items, gpu_slots(opts), timeout, opts.progress)
        else:
            _run_submitit(layout, spec, items, opts, timeout)
    flag_shared_runs(cfg, subs, parts)
    table = gather(cfg, cases, out, subs, parts, questions, opts.tier)
    write_csvs(out, table)
    comparison = None
    if opts.compare is not None:
        comparison = write_compare(out, table, Path(opts.compare))
    write_report(out, table, comparison, warnings)
    graded = len({e["id"] for e in table.subs if e["state"].get("run") == run_id})
    print(f"wrote {out}/scores.csv ({len(table.rows)} rows), {out}/questions.csv, {out}/report.html; "
          f"graded {graded}, reused {reused}, {time.monotonic() - t0:.0f} s", flush=True)
    return 0


def _run_local(layout, spec, items, slots, timeout, progress: bool) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(items), unit="submission", desc="grading", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def done(item, state):
        reason = f" ({state['reason'][:80]})" if state.get("reason") else ""
        bar.write(f"{item['id']:30s} {state.get('status', '?'):12s} "
                  f"{state.get('seconds', 0):6.1f} s{reason}")
        bar.update(1)

    pool = Pool(layout, spec, slots, timeout, on_done=done)
    previous = {}

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, interrupted)
    try:
        pool.run(items)
    except KeyboardInterrupt:
        pool.stop()
        bar.close()
        print("interrupted: finished submissions are kept; run the same command again to go on",
              file=sys.stderr, flush=True)
        raise SystemExit(130)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    bar.close()


def slurm_parameters(opts: BatchOptions, per_task: int, minutes: int, n_chunks: int) -> dict:
    """submitit's AutoExecutor parameters for one array task per chunk."""
    params = {"timeout_min": minutes, "slurm_partition": opts.slurm.get("partition"),
              "cpus_per_task": opts.slurm.get("cpus_per_task") or 2 * per_task,
              "slurm_array_parallelism": opts.slurm.get("array_parallelism") or n_chunks,
              "name": "hw12-grade"}
    if opts.slurm.get("gpus_per_task"):
        params["gpus_per_node"] = opts.slurm["gpus_per_task"]
    if opts.slurm.get("mem_gb"):
        params["mem_gb"] = opts.slurm["mem_gb"]
    for key in ("account", "qos"):
        if opts.slurm.get(key):
            params.setdefault("slurm_additional_parameters", {})[key] = opts.slurm[key]
    return {k: v for k, v in params.items() if v is not None}


def _run_submitit(layout, spec, items, opts: BatchOptions, timeout) -> None:
    """One submitit job per chunk of submissions; each chunk grades with the same pool, on its node."""
    import submitit

    logs = Path(spec["out"]) / "_submitit"
    chunks = [items[i:i + opts.chunk_size] for i in range(0, len(items), max(1, opts.chunk_size))]
    gpus = opts.slurm.get("gpus_per_task") or 0
    per_task = gpus * max(1, opts.jobs_per_gpu) if gpus else max(1, opts.jobs)  # gradings at once
    minutes = opts.slurm.get("time_min") or int(len(chunks[0]) * timeout / per_task / 60) + 10
    if opts.executor == "slurm":
        ex = submitit.AutoExecutor(folder=logs, cluster="slurm")
        ex.update_parameters(**slurm_parameters(opts, per_task, minutes, len(chunks)))
    else:
        ex = submitit.LocalExecutor(folder=logs)
        ex.update_parameters(timeout_min=minutes)
    functions = []
    for i, chunk in enumerate(chunks):
        chunk_spec = dict(spec, items=chunk, jobs_per_task=per_task,
                          jobs_per_gpu=max(1, opts.jobs_per_gpu), timeout_s=timeout)
        path = logs / f"chunk-{i:04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(chunk_spec))
        functions.append(submitit.helpers.CommandFunction(
            [sys.executable, "-m", "autograder.batch.run", "chunk", str(path)], verbose=False,
            cwd=str(layout.root)))  # the job's own environment: Slurm sets CUDA_VISIBLE_DEVICES
    with ex.batch():
        jobs = [ex.submit(f) for f in functions]
    print(f"submitted {len(jobs)} {opts.executor} job(s) of up to {opts.chunk_size} submissions: "
          f"{', '.join(j.job_id for j in jobs)}; logs in {logs}", flush=True)
    from tqdm import tqdm

    for job in tqdm(jobs, unit="chunk", desc="chunks", file=sys.stderr, disable=not opts.progress):
        try:
            job.result()
        except Exception as e:  # noqa: BLE001 - a failed chunk leaves rows marked as stopped
            print(f"job {job.job_id} failed: {str(e)[-500:]}", file=sys.stderr, flush=True)
    for item in items:  # whatever a failed or cancelled chunk left undone still gets a row
        state = read_state(Path(spec["out"]), item["id"])
        if state is None or state.get("run") != spec["run"]:
            write_unfinished(spec, item, "its cluster job ended before grading it", 0.0)


def run_chunk(layout: Layout, chunk_spec: dict) -> None:
    """Inside a cluster job: grade one chunk with the GPUs this job was given."""
    visible = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    k = chunk_spec["jobs_per_gpu"]
    slots = [g for g in visible for _ in range(k)] if visible else [None] * chunk_spec["jobs_per_task"]
    spec = {k: v for k, v in chunk_spec.items() if k not in ("items", "jobs_per_task", "jobs_per_gpu",
                                                             "timeout_s")}
    Pool(layout, spec, slots, chunk_spec["timeout_s"]).run(chunk_spec["items"])


def main(argv: list[str]) -> int:
    """``python -m autograder.batch.run serve SPEC`` (one slot's gradings) or ``chunk SPEC_FILE`` (a
    cluster job)."""
    if argv[0] == "serve":
        serve(json.loads(argv[1]))
        return 0
    if argv[0] == "chunk":
        chunk_spec = json.loads(Path(argv[1]).read_text())
        run_chunk(Layout(chunk_spec["root"]), chunk_spec)
        return 0
    raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

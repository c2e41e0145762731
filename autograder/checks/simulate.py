"""``python -m autograder simulate``: run a part's Gradescope zip the way Gradescope runs it.

    python -m autograder simulate --part diffusion [SUBMISSION] [--memory-mb 768] [--cpus 0.5]

What Gradescope does, step by step, and what this module does instead:

1. unzips the autograder into ``/autograder/source`` -> a temporary ``<tmp>/autograder/source``;
2. runs ``setup.sh`` once, building the image -> only its local steps, ``setup_local.sh`` (the
   sandbox user, permissions), never its installs: the grading environment is a local virtual
   environment (``--python-env``, by default ``.venv-cpu`` made from requirements-grading-cpu.txt,
   the CPU-only torch the zip installs) put first on ``PATH``;
3. copies the upload into ``/autograder/submission`` (symbolic links kept, as uploads from GitHub
   keep them) and runs ``run_autograder`` as root -> the same, inside a kernel-enforced memory limit
   and CPU quota (cgroup v1 ``memory`` and ``cpu`` controllers, or cgroup v2);
4. shows ``/autograder/results/results.json`` -> reads it as strict JSON (RFC 8259, UTF-8) and
   reports the score with the cgroup's peak memory, OOM kills and the wall time.

Needs root (the sandbox user, cgroups); :class:`SimulationUnavailable` says why it cannot run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import ROOT as REPO
from autograder.grading.sandbox.cgroups import Cgroup, CgroupUnavailable
from autograder.grading.sandbox.cleanup import kill_processes, remove_tree
from autograder.grading.sandbox.confinement import UidLease, bwrap

GRADESCOPE_MEMORY_MB = 768
GRADESCOPE_CPUS = 0.5


class SimulationUnavailable(RuntimeError):
    """This machine cannot run the simulation (not root, no cgroups, no sandbox user)."""


# ---- the simulation -------------------------------------------------------------------------------
@dataclass
class SimulationResult:
    part: str
    results: dict | None  # results.json, or None when it is missing or not strict JSON
    results_error: str  # why results is None ("" otherwise)
    wall_s: float
    peak_memory_mb: float  # the cgroup's peak charge (resident memory and page cache)
    oom_kills: int
    returncode: int | None  # run_autograder's exit status (None: stopped at the timeout)
    leftover_processes: int  # still in the cgroup after run_autograder ended (then killed)
    log: str  # run_autograder's stdout and stderr
    limits: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        return float(self.results["score"]) if self.results else 0.0

    @property
    def max_score(self) -> float:
        return sum(float(t.get("max_score", 0)) for t in (self.results or {}).get("tests", []))


def strict_json(data: bytes):
    """Parse ``data`` as RFC 8259 JSON: UTF-8 without lone surrogates, no NaN or Infinity."""
    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    text = data.decode("utf-8")  # strict: invalid bytes and encoded surrogates raise
    return json.loads(text, parse_constant=refuse)


def check_can_simulate() -> None:
    """Raise SimulationUnavailable with the reason if this machine cannot run the simulation."""
    if os.geteuid() != 0:
        raise SimulationUnavailable("needs root (the sandbox user, the cgroup, the container's "
                                    "view of the file system)")
    if bwrap() is None:
        raise SimulationUnavailable("bubblewrap is missing (it makes the simulated container: "
                                    "`apt install bubblewrap`)")
    try:
        Cgroup(64, 0.5).remove()
    except CgroupUnavailable as e:
        raise SimulationUnavailable(str(e)) from None


def default_python_env() -> Path:
    return REPO / ".venv-cpu"


def _python_folders(env_dir: Path) -> list[str]:
    """The grading environment and the Python installation it was made from (read-only in the
    simulated container)."""
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-I", "-c",
                           "import os, sys; print(sys.prefix); print(sys.base_prefix); "
                           "print(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))"],
                          capture_output=True, text=True)
    if proc.returncode != 0:  # a broken environment: the run shows what happens then
        return [str(env_dir)]
    return sorted(set(proc.stdout.split()))


def container_view(tmp: Path, env_dir: Path) -> list[str]:
    """bubblewrap's arguments for the simulated Gradescope container: the host read-only, with
    nothing of the staff's (homes, /root, this checkout) but the grading environment; its own
    /etc (a copy: setup_local.sh adds the sandbox user there), /tmp, /run and /root, and the
    ``/autograder``-shaped folder ``tmp`` writable. Nothing the run does reaches the host's files,
    and no mode of the host's folders changes (setup_local.sh's ``chmod 711 /root`` included)."""
    checkout = [str(REPO)] if str(REPO) not in ("/", "/root", "/home", "/tmp") else []
    replaced = ["/tmp", "/run", "/root", "/home", *checkout]  # the container's own, not the host's
    args = ["--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc",
            "--bind", str(tmp / "tmp"), "/tmp", "--tmpfs", "/run",  # /tmp on disk, as there
            "--bind", str(tmp / "root"), "/root",  # 0700 as on Gradescope, until setup_local.sh
            "--tmpfs", "/home"]
    made: set[str] = set(replaced)

    def parents(path: str) -> None:
        """The folders above ``path`` inside a replaced one, traversable (bubblewrap would make
        them 0700)."""
        for parent in map(str, reversed(Path(path).parents)):
            if parent not in made and any(parent.startswith(r + "/") for r in replaced):
                args.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)

    for folder in checkout:  # the checkout: solutions, hidden tests, keys
        parents(folder)
        args += ["--tmpfs", folder]
    for path in _python_folders(env_dir):
        parents(path)
        args += ["--ro-bind", path, path]
    args += ["--bind", str(tmp / "etc"), "/etc"]
    parents(str(tmp))
    return args + ["--bind", str(tmp), str(tmp)]


def _copy_submission(submission: Path, dest: Path) -> None:
    if submission.is_dir():
        shutil.copytree(submission, dest, symlinks=True, dirs_exist_ok=True)
    elif submission.is_file():  # a zip upload: Gradescope unpacks it into the submission folder
        from autograder.grading.uploads import safe_extract

        safe_extract(submission, dest)
    else:
        raise FileNotFoundError(f"{submission} does not exist")


def simulate(part: str, submission: Path, zip_path: Path, *, memory_mb: int | None =
             GRADESCOPE_MEMORY_MB, cpus: float | None = GRADESCOPE_CPUS,
             python_env: Path | None = None, timeout_s: float = 600.0,
             keep: Path | None = None, disk_mb: int | None = None,
             namespaces: str = "auto") -> SimulationResult:
    """Run ``zip_path``'s run_autograder on ``submission`` as Gradescope would; see the module doc.

    ``memory_mb``/``cpus`` of None or 0 lift that limit. ``keep``: copy the /autograder folder there.
    ``disk_mb``: put /autograder and the grader's scratch (TMPDIR) on one small filesystem of that
    size (a tmpfs), as on a Gradescope machine whose disk is nearly full. ``namespaces="off"``:
    a container that refuses namespaces (the grader falls back to the sandbox user behind a
    seccomp filter); ``"auto"``: the grader uses them where it can, as on Gradescope.
    """
    check_can_simulate()
    env_dir = Path(python_env or default_python_env()).absolute()
    if not (env_dir / "bin" / "python").exists():
        raise SimulationUnavailable(f"no Python environment at {env_dir} (make venv-cpu creates it)")
    tmp = Path(tempfile.mkdtemp(prefix="hw12-sim-"))
    try:
        if disk_mb:
            _mount_tmpfs(tmp, disk_mb)
        try:
            return _simulate_in(tmp, part, submission, zip_path, memory_mb=memory_mb, cpus=cpus,
                                env_dir=env_dir, timeout_s=timeout_s, keep=keep,
                                scratch_tmp=bool(disk_mb), namespaces=namespaces)
        finally:
            if disk_mb:
                subprocess.run(["umount", "-l", str(tmp)], capture_output=True)
    finally:
        remove_tree(tmp)


def _mount_tmpfs(path: Path, size_mb: int) -> None:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=755", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SimulationUnavailable(f"cannot mount a {size_mb} MB tmpfs: {proc.stderr.strip()}")


EARLIER_RESULT = "an earlier submission's hidden result"


def write_metadata(path: Path) -> None:
    """What Gradescope puts beside the upload: the submission, its students and every earlier
    submission with its results (hidden tests' included), as root's file."""
    earlier = {"score": 11.5, "tests": [{"name": "q1b hidden", "score": 0.0, "max_score": 1.0,
                                         "output": EARLIER_RESULT, "visibility": "after_published"}]}
    path.write_text(json.dumps({
        "id": 182012, "created_at": "2026-12-01T21:00:00.000000-08:00",
        "submission_method": "upload",
        "users": [{"email": "student@berkeley.edu", "id": 4182, "name": "A. Student"}],
        "assignment": {"id": 18212, "title": "Homework 12 (Code)", "total_points": "22.5"},
        "previous_submissions": [{"submission_time": "2026-11-30T20:00:00.000000-08:00",
                                  "score": 11.5, "results": earlier}]}))
    os.chmod(path, 0o644)


def add_account(etc: Path, user: str, uid: int) -> None:
    """Give the container's /etc (a copy) the account ``user`` with ``uid`` as its uid and gid."""
    with open(etc / "passwd", "a") as f:
        f.write(f"{user}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n")
    with open(etc / "group", "a") as f:
        f.write(f"{user}:x:{uid}:\n")


def _simulate_in(tmp: Path, part: str, submission: Path, zip_path: Path, *, memory_mb, cpus,
                 env_dir: Path, timeout_s: float, keep: Path | None,
                 scratch_tmp: bool, namespaces: str) -> SimulationResult:
    ag = Path(tmp) / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True)
    for d in (Path(tmp), ag):  # open like /autograder: only setup_local.sh locks source/ away
        os.chmod(d, 0o755)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
    _copy_submission(Path(submission), ag / "submission")
    write_metadata(ag / "submission_metadata.json")
    shutil.copytree("/etc", tmp / "etc", symlinks=True)
    (tmp / "root").mkdir(mode=0o700)
    (tmp / "tmp").mkdir()
    os.chmod(tmp / "tmp", 0o1777)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW12_", "PYTHON"))}
    env.update(AUTOGRADER_ROOT=str(ag), PATH=f"{env_dir / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}")
    if namespaces == "off":
        env["HW12_NAMESPACES"] = "off"
    # One sandbox user per run, with a uid of the grader's pool (on Gradescope one grading has the
    # machine): the grader sweeps the user's processes and files, which must not reach a run next
    # to this one.
    lease = UidLease()
    user = f"hw12s{lease.uid}"
    add_account(tmp / "etc", user, lease.uid)
    env["HW12_SANDBOX_USER"] = user
    if scratch_tmp:  # the grader's scratch folder on the same (small) filesystem
        (Path(tmp) / "scratch").mkdir(mode=0o1777)
        os.chmod(Path(tmp) / "scratch", 0o1777)
        env["TMPDIR"] = str(Path(tmp) / "scratch")
    container = [bwrap(), *container_view(tmp, env_dir), "--chdir", str(ag), "--"]
    try:
        setup = subprocess.run([*container, "bash", str(ag / "source" / "setup_local.sh")],
                               env=env, capture_output=True, text=True, timeout=120)
        if setup.returncode != 0:
            raise SimulationUnavailable(f"setup_local.sh failed:\n{setup.stdout}{setup.stderr}")
        try:
            group = Cgroup(memory_mb, cpus)
        except CgroupUnavailable as e:
            raise SimulationUnavailable(str(e)) from None
        try:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                group.command([*container, "bash", str(ag / "source" / "run_autograder")]),
                env={**env, **group.environment()}, cwd=str(ag), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                out, _ = proc.communicate(timeout=timeout_s)
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                group.kill_all()
                out, _ = proc.communicate()
                returncode = None
            wall = time.monotonic() - t0
            leftover = group.kill_all()
            peak, ooms = group.peak_bytes(), group.oom_kills()
        finally:
            group.kill_all()
            group.remove()
    finally:
        kill_processes(lease.uid)
        lease.release()
    results_path = ag / "results" / "results.json"
    results, error = None, ""
    try:
        results = strict_json(results_path.read_bytes())
    except FileNotFoundError:
        error = "results.json was not written"
    except (ValueError, UnicodeDecodeError) as e:
        error = f"results.json is not strict JSON: {e}"
    if keep is not None:
        shutil.copytree(ag, keep, symlinks=True, dirs_exist_ok=True)
    return SimulationResult(
        part=part, results=results, results_error=error, wall_s=wall,
        peak_memory_mb=peak / 2**20 if peak >= 0 else float("nan"), oom_kills=ooms,
        returncode=returncode, leftover_processes=leftover,
        log=out.decode("utf-8", errors="replace"),
        limits={"memory_mb": memory_mb, "cpus": cpus, "python_env": str(env_dir),
                "namespaces": namespaces})


def report(sim: SimulationResult) -> str:
    """What staff read: the student's table, then score, memory, OOM kills and time."""
    lines = []
    if sim.results is not None:
        lines.append(str(sim.results.get("output", "")))
    else:
        lines.append(f"NO VALID results.json: {sim.results_error}")
    mem = sim.limits.get("memory_mb") or "no"
    cpus = sim.limits.get("cpus") or "no"
    lines += [
        "",
        f"part {sim.part}: score {sim.score:g} / {sim.max_score:g}",
        f"limits: {mem} MB memory, {cpus} CPUs (cgroup); environment {sim.limits.get('python_env')}",
        f"peak cgroup memory {sim.peak_memory_mb:.0f} MB, OOM kills {sim.oom_kills}, "
        f"wall time {sim.wall_s:.1f} s, run_autograder exit status {sim.returncode}",
    ]
    if sim.leftover_processes:
        lines.append(f"{sim.leftover_processes} process(es) were still running afterwards (killed)")
    return "\n".join(lines)

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
import signal
import stat
import subprocess
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup")
GRADESCOPE_MEMORY_MB = 768
GRADESCOPE_CPUS = 0.5
CPU_PERIOD_US = 100_000


class SimulationUnavailable(RuntimeError):
    """This machine cannot run the simulation (not root, no cgroups, no sandbox user)."""


# ---- cgroups --------------------------------------------------------------------------------------
def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path in ``controller``'s v1 hierarchy (None: the v2 hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or controller in names.split(","):
            return path
    return "/"


class Cgroup:
    """A memory limit and a CPU quota enforced by the kernel on a process tree (v1 or v2)."""

    def __init__(self, memory_mb: int | None, cpus: float | None):
        self.name = f"hw12-sim-{uuid.uuid4().hex[:12]}"
        self.dirs: dict[str, Path] = {}
        if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists():
            self.version = 1
            for ctl in ("memory", "cpu"):
                parent = CGROUP_ROOT / ctl / _own_cgroup(ctl).lstrip("/")
                self.dirs[ctl] = self._mkdir(parent / self.name)
        elif (CGROUP_ROOT / "cgroup.controllers").exists():
            self.version = 2
            enabled = (CGROUP_ROOT / "cgroup.subtree_control").read_text().split()
            for ctl in ("memory", "cpu"):
                if ctl not in enabled:
                    self._write(CGROUP_ROOT / "cgroup.subtree_control", f"+{ctl}")
            self.dirs["memory"] = self.dirs["cpu"] = self._mkdir(CGROUP_ROOT / self.name)
        else:
            raise SimulationUnavailable("no cgroup memory controller is mounted under /sys/fs/cgroup")
        try:
            self._limit(memory_mb, cpus)
        except BaseException:
            self.remove()
            raise

    @staticmethod
    def _mkdir(path: Path) -> Path:
        try:
            path.mkdir()
        except OSError as e:
            raise SimulationUnavailable(f"cannot create the cgroup {path}: {e}") from None
        return path

    @staticmethod
    def _write(path: Path, value: str) -> None:
        try:
            path.write_text(value)
        except OSError as e:
            raise SimulationUnavailable(f"cannot write {value!r} to {path}: {e}") from None

    def _limit(self, memory_mb: int | None, cpus: float | None) -> None:
        mem, cpu = self.dirs["memory"], self.dirs["cpu"]
        if self.version == 1:
            if memory_mb:
                self._write(mem / "memory.limit_in_bytes", str(memory_mb * 2**20))
                if (mem / "memory.memsw.limit_in_bytes").exists():  # no swapping around the limit
                    self._write(mem / "memory.memsw.limit_in_bytes", str(memory_mb * 2**20))
            if cpus:
                self._write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                self._write(cpu / "cpu.cfs_quota_us", str(int(cpus * CPU_PERIOD_US)))
        else:
            if memory_mb:
                self._write(mem / "memory.max", str(memory_mb * 2**20))
                if (mem / "memory.swap.max").exists():
                    self._write(mem / "memory.swap.max", "0")
            if cpus:
                self._write(cpu / "cpu.max", f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")

    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def pids(self) -> list[int]:
        text = (self.dirs["memory"] / "cgroup.procs").read_text()
        return [int(v) for v in text.split()]

    def peak_bytes(self) -> int:
        mem = self.dirs["memory"]
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((mem / name).read_text())
        except (OSError, ValueError):
            return -1  # v2 kernels before 5.19 have no memory.peak

    def oom_kills(self) -> int:
        mem = self.dirs["memory"]
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (mem / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def kill_all(self) -> int:
        """SIGKILL every process left in the cgroup; return how many there were."""
        left = self.pids()
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        return len(left)

    def remove(self) -> None:
        for d in {str(v) for v in self.dirs.values()}:
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


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
        raise SimulationUnavailable("needs root (to create the sandbox user and the cgroup)")
    if shutil.which("useradd") is None:
        raise SimulationUnavailable("useradd is missing (it creates the sandbox user)")
    Cgroup(64, 0.5).remove()


def default_python_env() -> Path:
    return REPO / ".venv-cpu"


def _let_through(path: Path) -> None:
    """Let every user pass through (not list) the folders above the grading environment, as
    setup_local.sh does for /root where Gradescope's conda lives: the sandbox user runs its Python."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)


def _copy_submission(submission: Path, dest: Path) -> None:
    if submission.is_dir():
        shutil.copytree(submission, dest, symlinks=True, dirs_exist_ok=True)
    elif submission.is_file():  # a zip upload: Gradescope unpacks it into the submission folder
        from .uploads import safe_extract

        safe_extract(submission, dest)
    else:
        raise FileNotFoundError(f"{submission} does not exist")


def simulate(part: str, submission: Path, zip_path: Path, *, memory_mb: int | None =
             GRADESCOPE_MEMORY_MB, cpus: float | None = GRADESCOPE_CPUS,
             python_env: Path | None = None, timeout_s: float = 600.0,
             keep: Path | None = None, disk_mb: int | None = None) -> SimulationResult:
    """Run ``zip_path``'s run_autograder on ``submission`` as Gradescope would; see the module doc.

    ``memory_mb``/``cpus`` of None or 0 lift that limit. ``keep``: copy the /autograder folder there.
    ``disk_mb``: put /autograder and the grader's scratch (TMPDIR) on one small filesystem of that
    size (a tmpfs), as on a Gradescope machine whose disk is nearly full.
    """
    check_can_simulate()
    env_dir = Path(python_env or default_python_env()).absolute()
    if not (env_dir / "bin" / "python").exists():
        raise SimulationUnavailable(f"no Python environment at {env_dir} (make venv-cpu creates it)")
    _let_through(env_dir)
    with tempfile.TemporaryDirectory(prefix="hw12-sim-") as tmp:
        if disk_mb:
            _mount_tmpfs(Path(tmp), disk_mb)
        try:
            return _simulate_in(Path(tmp), part, submission, zip_path, memory_mb=memory_mb, cpus=cpus,
                                env_dir=env_dir, timeout_s=timeout_s, keep=keep,
                                scratch_tmp=bool(disk_mb))
        finally:
            if disk_mb:
                subprocess.run(["umount", "-l", tmp], capture_output=True)


def _mount_tmpfs(path: Path, size_mb: int) -> None:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=755", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SimulationUnavailable(f"cannot mount a {size_mb} MB tmpfs: {proc.stderr.strip()}")


def _simulate_in(tmp: Path, part: str, submission: Path, zip_path: Path, *, memory_mb, cpus,
                 env_dir: Path, timeout_s: float, keep: Path | None,
                 scratch_tmp: bool) -> SimulationResult:
    ag = Path(tmp) / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True)
    for d in (Path(tmp), ag):  # open like /autograder: only setup_local.sh locks source/ away
        os.chmod(d, 0o755)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
    _copy_submission(Path(submission), ag / "submission")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW12_", "PYTHON"))}
    env.update(AUTOGRADER_ROOT=str(ag), PATH=f"{env_dir / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}")
    # One sandbox user per run (on Gradescope one grading has the machine): the grader sweeps the
    # user's processes and files after each test, which must not reach a run next to this one.
    user = f"hw12s{uuid.uuid4().hex[:10]}"
    env["HW12_SANDBOX_USER"] = user
    if scratch_tmp:  # the grader's scratch folder on the same (small) filesystem
        (Path(tmp) / "scratch").mkdir(mode=0o1777)
        os.chmod(Path(tmp) / "scratch", 0o1777)
        env["TMPDIR"] = str(Path(tmp) / "scratch")
    setup = subprocess.run(["bash", str(ag / "source" / "setup_local.sh")], env=env,
                           capture_output=True, text=True, timeout=120)
    if setup.returncode != 0:
        raise SimulationUnavailable(f"setup_local.sh failed:\n{setup.stdout}{setup.stderr}")
    group = Cgroup(memory_mb, cpus)
    procs_files = group.procs_files()

    def enter_cgroup():  # in the child, before exec: everything it starts is inside
        for path in procs_files:
            with open(path, "w") as f:
                f.write(str(os.getpid()))

    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(["bash", str(ag / "source" / "run_autograder")], env=env,
                                cwd=str(ag), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=enter_cgroup)
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
        subprocess.run(["userdel", user], capture_output=True)
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
        limits={"memory_mb": memory_mb, "cpus": cpus, "python_env": str(env_dir)})


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

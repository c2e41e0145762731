"""Kernel-enforced limits on a process tree: one cgroup with memory, CPU and process limits.

Used by the Gradescope simulation (the whole run_autograder under Gradescope's 768 MB and half a
core) and by the grader itself as root (each concurrent grading's student processes in their own
cgroup, so that no grading can starve another). Works with cgroup v1 (one hierarchy per
controller: ``memory``, ``cpu``, ``pids``) and v2 (one unified hierarchy). Needs the right to
create cgroups, i.e. root; :class:`CgroupUnavailable` says why not.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
CONTROLLERS = ("memory", "cpu", "pids")


class CgroupUnavailable(RuntimeError):
    """This machine (or this user) cannot create the cgroup asked for."""


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path in ``controller``'s v1 hierarchy (None: the v2 hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or controller in names.split(","):
            return path
    return "/"


def cgroup_version() -> int | None:
    """1 or 2 for the hierarchy that has a memory controller here, None if there is none."""
    if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists():
        return 1
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return 2
    return None


class Cgroup:
    """A memory limit, a CPU quota and a cap on processes, enforced by the kernel on the processes
    moved into it (and everything they start). ``None`` or 0 leaves that limit off."""

    def __init__(self, memory_mb: int | None, cpus: float | None, pids: int | None = None,
                 prefix: str = "hw12", name: str | None = None):
        """``name``: a fixed name whose owner is known to be the caller (a uid lease's), taken
        over, with whatever processes are left in it killed, if a dead owner left it behind;
        by default a new name with ``prefix``."""
        self.name = name or f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.reuse = name is not None
        self.dirs: dict[str, Path] = {}
        self.version = cgroup_version()
        if self.version == 1:
            for ctl in CONTROLLERS:
                base = CGROUP_ROOT / ctl
                if ctl == "memory" or (base / "cgroup.procs").exists():
                    self.dirs[ctl] = self._mkdir(base / _own_cgroup(ctl).lstrip("/") / self.name)
        elif self.version == 2:
            parent = CGROUP_ROOT  # a v2 cgroup with processes in it cannot have children
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            for ctl in CONTROLLERS:
                if ctl not in enabled:
                    self._write(parent / "cgroup.subtree_control", f"+{ctl}")
            here = self._mkdir(parent / self.name)
            self.dirs = {ctl: here for ctl in CONTROLLERS}
        else:
            raise CgroupUnavailable("no cgroup memory controller is mounted under /sys/fs/cgroup")
        try:
            if self.reuse:
                self.kill_all()
            self._limit(memory_mb, cpus, pids)
        except BaseException:
            self.remove()
            raise

    def _mkdir(self, path: Path) -> Path:
        if self.reuse and path.is_dir():
            return path
        try:
            path.mkdir()
        except OSError as e:
            raise CgroupUnavailable(f"cannot create the cgroup {path}: {e}") from None
        return path

    @staticmethod
    def _write(path: Path, value: str) -> None:
        try:
            path.write_text(value)
        except OSError as e:
            raise CgroupUnavailable(f"cannot write {value!r} to {path}: {e}") from None

    def _limit(self, memory_mb: int | None, cpus: float | None, pids: int | None) -> None:
        mem, cpu, procs = (self.dirs.get(c) for c in CONTROLLERS)
        v1 = self.version == 1
        if memory_mb:
            limit = str(memory_mb * 2**20)
            self._write(mem / ("memory.limit_in_bytes" if v1 else "memory.max"), limit)
            swap = mem / ("memory.memsw.limit_in_bytes" if v1 else "memory.swap.max")
            if swap.exists():  # no swapping around the limit
                self._write(swap, limit if v1 else "0")
        if cpus and cpu is not None:
            quota = str(int(cpus * CPU_PERIOD_US))
            if v1:
                self._write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                self._write(cpu / "cpu.cfs_quota_us", quota)
            else:
                self._write(cpu / "cpu.max", f"{quota} {CPU_PERIOD_US}")
        if pids and procs is not None:
            self._write(procs / "pids.max", str(pids))

    def limits(self) -> dict:
        """What the kernel enforces here, as recorded in grading.json and results.json."""
        out = {"version": self.version}
        for ctl, d in self.dirs.items():
            out[ctl] = str(d)
        return out

    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def command(self, cmd: list[str]) -> list[str]:
        """``cmd`` started inside the cgroup: a shell joins it, then becomes ``cmd`` (no
        ``preexec_fn``, which is unsafe in a process with threads, as the runner is)."""
        join = 'for f in $HW12_CGROUP_PROCS; do echo $$ > "$f" || exit 70; done; exec "$@"'
        return ["/bin/sh", "-c", join, "sh", *cmd]

    def environment(self) -> dict:
        """What :meth:`command`'s shell needs in its environment."""
        return {"HW12_CGROUP_PROCS": " ".join(self.procs_files())}

    def pids(self) -> list[int]:
        try:
            text = (self.dirs["memory"] / "cgroup.procs").read_text()
        except OSError:
            return []
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

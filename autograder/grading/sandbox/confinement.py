"""Confinement of the student's code: one mechanism for every path that runs it.

Every grading (``grade`` of one upload or of a class export, each tier, ``--gpus``, Slurm through
submitit, ``validate``, ``simulate`` and the Gradescope zip) starts the student's workers from a
fork server (zygote.py) that the trusted runner starts through :func:`zygote_command`, after
:func:`plan` has decided what applies. The fork server and each worker it forks inherit it:

``namespaces``   bubblewrap (Debian's ``bubblewrap`` package) puts the fork server in fresh mount,
                 PID, network, IPC and UTS namespaces (and a user namespace when the grader is not
                 root). The file system it sees holds the system's ``/usr``, the Python
                 environment and the fork server's own code, read-only; the student's package,
                 read-only at ``/hw12/pkg``; a private home (``/hw12/home``), ``/tmp`` and
                 ``/dev/shm`` on small tmpfs; for the GPU tier its GPU's device nodes, nothing
                 else. Not the checkout, the export, the output folder or anybody's home. The
                 network namespace has only its own loopback. Only processes of the same grading
                 are visible (so signalled), and all die with the fork server.
                 As root, each fork server also gets its own unprivileged uid from a pool (leased
                 with a lock: no two gradings share one, even from two graders) and its own cgroup
                 (memory, CPU, processes), so that no grading can read, signal or starve another.
``uid+seccomp``  Gradescope's container may refuse namespaces. There the grader is root, the
                 sandbox user ``hw12student`` runs the student's code, the grader's files are
                 locked away by their modes (setup_local.sh), and a seccomp filter refuses every
                 socket but AF_UNIX (sockets of the internet families, netlink, packet) and
                 io_uring; the worker's pipes to the runner are pipes, not sockets.
``unconfined``   only when staff ask for it explicitly (``--unconfined``): the code runs as you.

Whatever the kind, the worker sets an OOM score of 1000, caps its file sizes and processes
(RLIMIT_FSIZE, RLIMIT_NPROC) and, where the binding is installed, also loads the seccomp filter
(a second wall behind the network namespace). :func:`plan` raises :class:`Unconfinable`, with
what is missing and how to get it, when the policy cannot be met; the grader then stops before
running anything of the student's.

Stdlib only (the runner imports it; nothing here runs student code).
"""
from __future__ import annotations

import fcntl
import functools
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIEW_ROOT = "/hw12"  # inside the namespaces: VIEW_ROOT/pkg (read-only) and VIEW_ROOT/home
VIEW_PKG, VIEW_HOME = f"{VIEW_ROOT}/pkg", f"{VIEW_ROOT}/home"
VIEW_CODE = f"{VIEW_ROOT}/sandbox"  # the fork server's and the worker's own code (read-only)
TMPFS_MB = {VIEW_HOME: 256, "/tmp": 256, "/dev/shm": 64}
# The pool of uids a root grader hands out, one per fork server: systemd leaves 1879048192 to
# 2147483647 unallocated ("Users and Groups on Linux"), so no account of the machine is there.
UID_POOL_BASE = int(os.environ.get("HW12_UID_BASE", "1900000000"))
UID_POOL_SIZE = 4096
LEASE_DIRS = ("/run/hw12-grader", "/tmp/hw12-grader-uids")
INSTALL_HINT = ("install bubblewrap (Debian and Ubuntu: `sudo apt install bubblewrap`; Fedora: "
                "`sudo dnf install bubblewrap`) and allow unprivileged user namespaces (Ubuntu 24.04: "
                "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`), or run the grader "
                "as root")


class Unconfinable(RuntimeError):
    """The policy cannot be met on this machine; the message says what is missing and what to do."""


@dataclass(frozen=True)
class Policy:
    """What a grading asks for. Crosses from the supervisor to the runner inside the Job."""

    namespaces: str = "required"  # required | auto (Gradescope: uid+seccomp without them) | off
    user: str | None = None  # a named sandbox user (Gradescope); None: a uid from the pool (root)
    unconfined: bool = False  # staff accepted running the code as themselves (--unconfined)
    memory_mb: int = 0  # cgroup limit of one grading's student processes (root only); 0: none
    cpus: float = 0.0  # its CPU quota in cores; 0: none
    pids: int = 1024  # its processes and threads


@dataclass(frozen=True)
class Confinement:
    """What applies to one fork server and every worker it forks; recorded in results.json's
    ``extra_data`` and in a batch's grading.json."""

    kind: str  # namespaces | uid+seccomp | unconfined
    network: str  # netns | seccomp | open
    seccomp: bool  # the worker loads the socket filter
    uid: int | None = None  # the student's uid (root), None: the grader's own uid
    gid: int | None = None
    user_namespace: bool = False
    cgroup: dict = field(default_factory=dict)  # the cgroup's limits, {} when there is none
    devices: tuple[str, ...] = ()  # GPU device nodes inside the namespaces

    def record(self) -> dict:
        out = asdict(self)
        out["devices"] = list(self.devices)
        return out


# ---- what this machine offers --------------------------------------------------------------------
def bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def namespaces_problem() -> str | None:
    """Why bubblewrap cannot make the namespaces here (None: it can). Tried once per process."""
    exe = bwrap()
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    cmd = [exe, *_unshare_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
           "--tmpfs", "/tmp", "--", "/bin/true"]  # what the fork server's view needs
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap could not run ({e})"
    if proc.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {proc.stderr.strip()[:300]}"
    return None


@functools.lru_cache(maxsize=None)
def seccomp_problem() -> str | None:
    """Why the seccomp socket filter cannot be built here (None: it can). The binding and
    libseccomp are loaded and a filter is made, not loaded: that happens in each worker, where a
    failure stops the worker's start (the grader's fault, reported as such)."""
    sys.path.insert(0, str(HERE))
    try:
        import netfilter

        netfilter.build_filter()
        return None
    except Exception as e:  # noqa: BLE001 - ImportError, OSError (no libseccomp), ...
        return (f"no seccomp filter ({type(e).__name__}: {e}); install pyseccomp (pip) and "
                "libseccomp2")
    finally:
        sys.path.remove(str(HERE))


def _unshare_flags() -> list[str]:
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    return flags if os.geteuid() == 0 else ["--unshare-user", *flags]


def share_of_machine(slots: int, cpus: int | None = None) -> dict:
    """Cgroup limits for one of ``slots`` gradings at once: three quarters of the memory split
    evenly, and ``cpus`` cores (default: the cores split evenly), as Policy fields."""
    try:
        with open("/proc/meminfo") as f:
            total_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return {}
    cores = cpus or max(1.0, len(os.sched_getaffinity(0)) / max(1, slots))
    return {"memory_mb": int(total_kb / 1024 * 0.75 / max(1, slots)), "cpus": float(cores)}


# ---- the decision ---------------------------------------------------------------------------------
def plan(policy: Policy) -> Confinement:
    """What confines the student's code under ``policy`` here, without leasing anything yet (the
    fork server's start does); :class:`Unconfinable` if the policy cannot be met."""
    if policy.unconfined:
        return Confinement("unconfined", "open", False)
    root = os.geteuid() == 0
    ns_problem = namespaces_problem() if policy.namespaces != "off" else "turned off"
    if ns_problem is None:
        return Confinement("namespaces", "netns", seccomp_problem() is None,
                           user_namespace=not root)
    if policy.namespaces == "required" or not root or policy.user is None:
        raise Unconfinable(
            f"the students' code cannot be confined on this machine: {ns_problem}. To grade "
            f"it safely, {INSTALL_HINT}. To run it without any boundary, as yourself (only for "
            "code you trust), pass --unconfined.")
    problem = seccomp_problem()
    if problem is not None:
        raise Unconfinable(f"without namespaces ({ns_problem}) the students' code needs a "
                           f"seccomp filter to keep it off the network, and {problem}")
    return Confinement("uid+seccomp", "seccomp", True)


# ---- identities: a uid per fork server (root) -----------------------------------------------------
class UidLease:
    """An unprivileged uid that no other grading uses while this lease is held: a lock file per uid
    (``flock``, released by the kernel if the grader dies), a uid with no account and, once
    locked, no process left of an earlier grading that died (they are killed)."""

    def __init__(self):
        self.fd, self.uid = None, None
        lock_dir = _lease_dir()
        for offset in range(UID_POOL_SIZE):  # lowest first: what a killed grader left is reused
            uid = UID_POOL_BASE + offset
            if _has_account(uid):
                continue
            fd = os.open(os.path.join(lock_dir, f"uid-{uid}.lock"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.fd, self.uid = fd, uid
            from autograder.grading.sandbox.cleanup import kill_processes

            kill_processes(uid)  # left by a grading whose grader was killed
            return
        raise Unconfinable(f"all {UID_POOL_SIZE} uids of the grader's pool are in use")

    @property
    def ids(self) -> tuple[int, int]:
        return self.uid, self.uid  # the same number as its group: no group entry needed

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _lease_dir() -> str:
    """A folder for the lock files that only root can write (the first of LEASE_DIRS that is, or
    can be made, root's and 0700)."""
    for d in LEASE_DIRS:
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            st = os.lstat(d)
            if st.st_uid == 0 and (st.st_mode & 0o7077) == 0 and os.path.isdir(d) \
                    and not os.path.islink(d):
                return d
        except OSError:
            continue
    raise Unconfinable(f"no folder for the uid pool's locks: none of {', '.join(LEASE_DIRS)} "
                       "can be made root's own (mode 0700)")


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def named_ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


# ---- the view inside the namespaces ---------------------------------------------------------------
def python_paths() -> list[str]:
    """The folders the grading Python needs: its environment, its base installation, the real
    location of its executable (all read-only in the view)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(p for p in paths if p and not p.startswith("/usr/") and p != "/usr")


def gpu_device_nodes(visible: str | None, dev: str = "/dev",
                     driver: str = "/proc/driver/nvidia") -> list[str]:
    """The NVIDIA device nodes a grading pinned to ``visible`` (CUDA_VISIBLE_DEVICES: indices in
    PCI bus order, or GPU-UUIDs; None: every GPU) needs: its own ``/dev/nvidiaN`` and the shared
    control nodes. Empty where there is no NVIDIA driver."""
    if not os.path.exists(f"{dev}/nvidiactl"):
        return []
    shared = [f"{dev}/{n}" for n in ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                     "nvidia-modeset") if os.path.exists(f"{dev}/{n}")]
    gpus = []  # (bus id, uuid, minor) in PCI bus order: CUDA_DEVICE_ORDER=PCI_BUS_ID indices
    for info in sorted(glob.glob(f"{driver}/gpus/*/information")):
        fields = _driver_fields(Path(info).read_text())
        if "Device Minor" in fields:
            gpus.append((Path(info).parent.name, fields.get("GPU UUID", ""),
                         int(fields["Device Minor"])))
    if visible is None:
        chosen = [m for _, _, m in gpus]
    else:
        chosen = []
        for token in (t.strip() for t in visible.split(",") if t.strip()):
            for i, (_, uuid, minor) in enumerate(gpus):
                if token == str(i) or (token.startswith("GPU-") and uuid.startswith(token)):
                    chosen.append(minor)
    return [f"{dev}/nvidia{m}" for m in sorted(set(chosen))] + shared


def _driver_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def view_arguments(conf: Confinement, pkg_dir: str) -> list[str]:
    """bubblewrap's arguments for the fork server's view (see the module docstring). The tmpfs
    mounts come first, so that a bind below one of their paths (an environment in /tmp) stays."""
    args = [*_unshare_flags(), "--hostname", "hw12", "--proc", "/proc", "--dev", "/dev",
            "--perms", "0711", "--dir", VIEW_ROOT]
    for mount, size_mb in TMPFS_MB.items():
        args += ["--size", str(size_mb * 2**20), "--tmpfs", mount]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        args += ["--ro-bind-try", etc, etc]
    made = {"/", "/tmp", VIEW_ROOT}
    for path in python_paths():
        for parent in map(str, reversed(Path(path).parents)):  # traversable, not listable
            if parent not in made:
                args += ["--perms", "0711", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(HERE), VIEW_CODE]
    for device in conf.devices:
        args += ["--dev-bind", device, device]
    # CPU topology (torch's cpuinfo); all of /sys where a GPU is used (the CUDA driver reads it)
    for path in (["/sys"] if conf.devices else ["/sys/devices/system/cpu"]):
        args += ["--ro-bind-try", path, path]
    args += ["--ro-bind", pkg_dir, VIEW_PKG]
    return args + ["--remount-ro", "/", "--chdir", "/"]


def zygote_command(conf: Confinement, python: str, zygote: Path, control_fd: int,
                   config: dict, pkg_dir: str) -> list[str]:
    """The command line that starts the fork server under ``conf``."""
    args = ["-I", "-B", str(zygote), "--control", str(control_fd), "--config", json.dumps(config)]
    if conf.kind != "namespaces":
        return [python, *args]
    args[2] = f"{VIEW_CODE}/{zygote.name}"  # its own code, where the view has it
    return [bwrap(), *view_arguments(conf, pkg_dir), "--", python, *args]

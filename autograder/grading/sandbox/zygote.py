"""Fork server for the student's workers: Python's and torch's start-up paid once per runner.

    python -I -B zygote.py --control FD --config JSON

The trusted runner starts it with a clean environment, under the confinement that
confinement.py chose (inside bubblewrap's namespaces, or not); ``--config`` says who the student's
code runs as (``uid``/``gid``, None: unchanged), whether workers load the seccomp socket filter,
whether the zygote is alone in its PID namespace with the student's processes (``namespaced``)
and which folders the student may write (``scratch``). It imports only the standard library,
numpy, torch and its sibling files (worker, protocol, gradients, cleanup, netfilter), never a
test, an oracle or reference code, so a worker forked from it knows nothing secret. It talks to
the runner over one SOCK_SEQPACKET socket:

    runner -> zygote   {"fork": {home, env, package_root, file_size_limit}} with three file
                       descriptors: the worker's request pipe, its reply pipe and its log;
                       {"kill": pid}: kill a worker's process group;
                       {"sweep": keep, "home": path}: kill every process of the student's but
                       ``keep`` and delete every file they wrote (home, /tmp, /dev/shm)
    zygote -> runner   {"ready": pid} once; {"forked": pid}, {"killed": pid}, {"swept": n} per
                       request; {"exited": pid, "status": code} when a child ends (code as
                       subprocess gives it: -N for signal N)

Pids are the zygote's own (in its PID namespace), which is why the runner asks it to kill.

Each child becomes a fresh worker: its own session, stdin from /dev/null, stdout and stderr to the
log, every other descriptor closed (the control socket included), the student's home as working
folder and its environment only, limits, an OOM score and the socket filter set while still
privileged, and only then the student's uid (see ``confine``). It dies with the zygote, which dies
with the runner.
"""
from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cleanup  # noqa: E402 - the sibling files
import numpy  # noqa: E402,F401 - paid once here, not in every worker
import torch  # noqa: E402,F401
import worker  # noqa: E402 - (it imports protocol.py)

NPROC_LIMIT = 512  # processes and threads of the sandbox user (a fork bomb stops there)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may leave files
MAX_REQUEST = 64 * 1024
FIRST_FREE_FD = 5  # 0 /dev/null, 1 and 2 the log, 3 requests in, 4 replies out


def die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def confine(file_size_limit: int, config: dict) -> None:
    """Caps written file sizes, turns off core dumps, marks the process as the first the kernel
    kills when memory runs out (only possible while privileged: /proc/self/oom_score_adj then
    belongs to root), makes it die with its parent, loads the socket filter, and only then switches
    to the student's ``uid``/``gid`` with a cap on its processes."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        if config.get("uid") is not None:  # as root this must work; elsewhere it is a best effort
            raise
    die_with_parent()
    if config.get("confined"):
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_LIMIT, NPROC_LIMIT))
    if config.get("seccomp"):
        import netfilter

        netfilter.refuse_network()
    if config.get("uid") is not None:
        uid, gid = config["uid"], config["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        die_with_parent()  # reset by the change of user


def prepare_scratch(config: dict) -> None:
    """At start, inside the namespaces: the student's writable folders (tmpfs) become theirs."""
    uid = config.get("uid")
    for path in config.get("scratch", []):
        if uid is not None:
            os.chown(path, uid, config["gid"])
        os.chmod(path, 0o700 if path == config.get("home") else 0o1777)


def sweep(config: dict, keep: int | None, home: str | None) -> int:
    """Kill every process of the student's but ``keep`` (all that this zygote's PID namespace
    holds, or all of the student's uid) and delete what they wrote; the number killed."""
    namespaced, uid = config.get("namespaced"), config.get("uid")
    if not namespaced and uid is None:
        return 0  # unconfined: the student's processes cannot be told from the grader's
    killed = cleanup.kill_processes(None if namespaced else uid,
                                    frozenset([keep]) if keep else frozenset())
    for folder in [home] + (config.get("scratch", []) if namespaced else list(SHARED_WRITABLE)):
        if not folder:
            continue
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if folder == home or namespaced or \
                        entry.stat(follow_symlinks=False).st_uid == uid:
                    cleanup.remove_tree(entry.path)
            except OSError:
                continue
    return killed


def place_descriptors(fds: list[int]) -> None:
    """Request pipe -> 3, reply pipe -> 4, log -> 1 and 2, /dev/null -> 0; close all others."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]  # out of the way of the targets
    fd_in, fd_out, log = high
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, target in ((log, 1), (log, 2), (fd_in, 3), (fd_out, 4)):
        os.dup2(fd, target)
    os.closerange(FIRST_FREE_FD, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def become_worker(request: dict, fds: list[int], config: dict) -> None:
    """In the forked child: confine it and serve the runner as a worker. Never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        place_descriptors(fds)
        sys.path.remove(HERE)
        os.chdir(request["home"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # TMPDIR is read again
        confine(request["file_size_limit"], config)
        worker.serve(3, 4, request["package_root"])
        code = 0
    except BaseException:  # noqa: BLE001 - reported in the log; the runner sees the pipe close
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def send(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def report_exits(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(control, {"exited": pid, "status": os.waitstatus_to_exitcode(status)})


def kill_worker(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def serve(control: socket.socket, config: dict) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    send(control, {"ready": os.getpid()})
    while True:
        report_exits(control)
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        if control not in ready:
            continue
        data, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        if not data:  # the runner is gone
            return
        message = json.loads(data)
        if "kill" in message:
            kill_worker(message["kill"])
            send(control, {"killed": message["kill"]})
            continue
        if "sweep" in message:
            send(control, {"swept": sweep(config, message["sweep"], message.get("home"))})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.detach()  # its descriptor is closed with the others; never closed twice
            become_worker(message["fork"], fds, config)
        for fd in fds:
            os.close(fd)
        send(control, {"forked": pid})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", type=int, required=True)
    ap.add_argument("--config", default="{}")
    die_with_parent()
    args = ap.parse_args()
    config = json.loads(args.config)
    if config.get("namespaced"):
        prepare_scratch(config)
    if config.get("uid") is None and config.get("confined"):
        _prctl(PR_SET_DUMPABLE, 0)  # workers share its uid: they may not trace or read it
    control = socket.socket(fileno=args.control)
    try:
        serve(control, config)
    finally:
        for pid in _children():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def _children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()

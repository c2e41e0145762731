"""Fork server for the student's workers: Python's and torch's start-up paid once per runner.

    python -I -B zygote.py --control FD

The trusted runner starts it with a clean environment. It imports only the standard library, numpy,
torch and the sibling ``worker.py``/``protocol.py``, never a test, an oracle or reference code, so a
worker forked from it knows nothing secret. It talks to the runner over one SOCK_SEQPACKET socket:

    runner -> zygote   a JSON request (home, env, package root, limits, user) with three file
                       descriptors: the worker's request pipe, its reply pipe and its log
    zygote -> runner   {"ready": pid} once; {"forked": pid} per request; {"exited": pid,
                       "status": code} when a child ends (code as subprocess gives it: -N for
                       signal N)

Each child becomes a fresh worker: its own session, stdin from /dev/null, stdout and stderr to the
log, every other descriptor closed (the control socket included), the student's home as working
folder and its environment only, limits and an OOM score set while still privileged, and only then
the sandbox user (see ``confine``). It dies with the zygote, which dies with the runner.
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
import worker  # noqa: E402 - the sibling file (it imports protocol.py)

import numpy  # noqa: E402,F401 - paid once here, not in every worker
import torch  # noqa: E402,F401

NPROC_LIMIT = 512  # processes and threads of the sandbox user (a fork bomb stops there)
PR_SET_PDEATHSIG = 1
MAX_REQUEST = 64 * 1024
FIRST_FREE_FD = 5  # 0 /dev/null, 1 and 2 the log, 3 requests in, 4 replies out


def die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def confine(file_size_limit: int, user: tuple[int, int] | None) -> None:
    """Caps written file sizes, turns off core dumps, marks the process as the first the kernel
    kills when memory runs out (only possible while privileged: /proc/self/oom_score_adj then
    belongs to root), makes it die with its parent, and only then switches to the sandbox user
    ``(uid, gid)`` with a cap on its processes."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        if user is not None:  # as root this must work; elsewhere it is a best effort
            raise
    die_with_parent()
    if user is not None:
        uid, gid = user
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_LIMIT, NPROC_LIMIT))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        die_with_parent()  # reset by the change of user


def place_descriptors(fds: list[int]) -> None:
    """Request pipe -> 3, reply pipe -> 4, log -> 1 and 2, /dev/null -> 0; close all others."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]  # out of the way of the targets
    fd_in, fd_out, log = high
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, target in ((log, 1), (log, 2), (fd_in, 3), (fd_out, 4)):
        os.dup2(fd, target)
    os.closerange(FIRST_FREE_FD, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def become_worker(request: dict, fds: list[int]) -> None:
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
        confine(request["file_size_limit"], request["user"])
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


def serve(control: socket.socket) -> None:
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
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.detach()  # its descriptor is closed with the others; never closed twice
            become_worker(json.loads(data), fds)
        for fd in fds:
            os.close(fd)
        send(control, {"forked": pid})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", type=int, required=True)
    die_with_parent()
    control = socket.socket(fileno=ap.parse_args().control)
    try:
        serve(control)
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

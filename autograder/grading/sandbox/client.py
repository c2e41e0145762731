"""Runner side of the sandbox: start the student worker, call into it with deadlines, wrap replies.

``Sandbox.module("binary_diffusion")`` returns a proxy whose attributes behave like the student's
module: constants come back as plain values, functions and classes as callables that run in the
worker. A call that hangs past the test's deadline kills the worker (``StudentTimeout``); a worker
that dies (``os._exit``, a segfault, the memory killer) raises ``StudentCrashed``. Both derive from
``BaseException`` so that a test's own ``except Exception`` cannot swallow them. The next call
starts a fresh worker.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from autograder.grading.sandbox import protocol as P
from autograder.grading.sandbox.cgroups import Cgroup, CgroupUnavailable
from autograder.grading.sandbox.cleanup import clear_dir, remove_tree
from autograder.grading.sandbox.confinement import (
    VIEW_HOME,
    VIEW_PKG,
    Confinement,
    Policy,
    UidLease,
    Unconfinable,
    gpu_device_nodes,
    named_ids,
    plan,
    zygote_command,
)
from autograder.grading.testfiles import stand_in

ZYGOTE = Path(__file__).resolve().with_name("zygote.py")


class StudentRaised(Exception):
    """The student's code raised an exception (``type_name`` is its class name). Its ``problem``
    (protocol.PROBLEMS): a runtime error, except for a stub's NotImplementedError."""

    def __init__(self, label: str, type_name: str, message: str, where: str):
        self.type_name, self.student_message, self.where = type_name, message, where
        self.problem = "" if type_name == "NotImplementedError" else "runtime error"
        text = f"{label} raised {type_name}: {message}"
        super().__init__(text + (f"\n{where}" if where else ""))


def student_raised(label: str, fields: list) -> "StudentRaised | StudentCrashed":
    """The error the worker reports, from its fields (type name, message, frames). The worker is
    the student's process, so fields that are not three strings are a broken reply, not text."""
    if len(fields) != 3 or not all(type(f) is str for f in fields):
        return StudentCrashed(f"{label}: your code's process reported an error the grader cannot "
                              "read (did your code change how the grader's worker answers?)")
    return StudentRaised(label, *fields)


class SandboxAbort(BaseException):
    """The student process hung or died, or a module cannot be used; the current test cannot go
    on. ``problem``: what kind of failure it is (protocol.PROBLEMS)."""

    problem = "runtime error"

    def __init__(self, message: str, problem: str | None = None):
        super().__init__(message)
        if problem is not None:
            self.problem = problem


class StudentTimeout(SandboxAbort):
    problem = "time-out"


class StudentCrashed(SandboxAbort):
    pass


_STRAY_WRITE = ("{label}: your code's process sent the grader something that is not an answer "
                "(does your code, or a process it started, write to the grader's pipe?); it was "
                "stopped and restarted")


@dataclass
class SandboxOptions:
    package_root: Path
    log_path: Path
    python: str = sys.executable
    start_timeout_s: float = 120.0
    import_timeout_s: float = 30.0
    file_size_limit: int = 64 * 1024 * 1024
    policy: Policy = Policy()  # how the student's code is confined (sandbox/confinement.py)
    home: Path | None = None  # the student's writable folder: HOME, TMPDIR, working folder
    env: dict = field(default_factory=dict)


class ZygoteFailed(Exception):
    """The fork server could not start or stopped answering: the grader's fault, not the student's."""

    grader_failure = True  # code that catches the student's errors lets this one through
    problem = "grader error"


class Zygote:
    """The fork server (zygote.py) that starts every worker of this runner process, confined as
    ``policy`` asks (sandbox/confinement.py): in bubblewrap's namespaces, with a uid of its own from
    the pool and a cgroup of its own as root, or, on Gradescope without namespaces, as the named
    sandbox user behind a seccomp filter.

    Started on first use and kept for the runner's life, so Python's and torch's start-up is paid
    once rather than for every worker (each submission of a batch, each restart after a crash); a
    runner grades one submission at a time, so one identity per fork server is one per grading.
    """

    _current: "Zygote | None" = None

    def __init__(self, python: str, deadline: float, policy: Policy):
        self.policy = policy
        self.conf: Confinement = plan(policy)
        self.lease, self.cgroup, self.staged = None, None, None
        self.pkg_dir = tempfile.mkdtemp(prefix="hw12-view-")  # bound read-only at VIEW_PKG
        os.chmod(self.pkg_dir, 0o755)  # readable by the student's uid, writable by nobody else
        try:
            self._start(python, deadline)
        except BaseException:
            self.close()
            raise

    def _start(self, python: str, deadline: float) -> None:
        root, conf = os.geteuid() == 0, self.conf
        ids = None
        if root and conf.kind != "unconfined":
            if self.policy.user is not None:
                ids = named_ids(self.policy.user)
            else:
                self.lease = UidLease()
                ids = self.lease.ids
            if self.policy.user is None and (self.policy.memory_mb or self.policy.cpus
                                             or self.policy.pids):
                try:
                    self.cgroup = Cgroup(self.policy.memory_mb, self.policy.cpus,
                                         self.policy.pids, name=f"hw12-uid-{ids[0]}")
                except CgroupUnavailable:
                    self.cgroup = None  # where the machine offers no cgroup: the rlimits remain
        namespaced = conf.kind == "namespaces"
        devices = tuple(gpu_device_nodes(os.environ.get("CUDA_VISIBLE_DEVICES"))) \
            if namespaced else ()
        self.conf = conf = replace(conf, uid=ids[0] if ids else None,
                                   gid=ids[1] if ids else None, devices=devices,
                                   cgroup=self.cgroup.limits() if self.cgroup else {})
        config = {"uid": conf.uid, "gid": conf.gid, "seccomp": conf.seccomp,
                  "namespaced": namespaced, "confined": conf.kind != "unconfined",
                  "home": VIEW_HOME if namespaced else None,
                  "scratch": [VIEW_HOME, "/tmp", "/dev/shm"] if namespaced else []}
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        if "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        command = zygote_command(conf, python, ZYGOTE, child.fileno(), config, self.pkg_dir)
        if self.cgroup is not None:
            command = self.cgroup.command(command)
            env.update(self.cgroup.environment())
        self.proc = subprocess.Popen(command, pass_fds=(child.fileno(),),
                                     stdin=subprocess.DEVNULL, env=env, cwd="/",
                                     start_new_session=True)
        child.close()
        self.sock = parent
        self.exits: dict[int, int] = {}
        try:
            self._receive(deadline, "ready")
        except TimeoutError:
            raise ZygoteFailed("the fork server of the student's processes did not start in "
                               "time") from None

    @classmethod
    def shared(cls, python: str, deadline: float, policy: Policy) -> "Zygote":
        """The runner's fork server, started (again) if it is not running or was started for
        another policy."""
        current = cls._current
        if current is None or current.proc.poll() is not None or current.policy != policy:
            if current is not None:
                current.close()
            cls._current = None
            try:
                cls._current = cls(python, deadline, policy)
            except Unconfinable as e:
                raise ZygoteFailed(f"the student's code cannot be confined here: {e}") from None
        return cls._current

    @classmethod
    def close_shared(cls) -> None:
        """End the runner's fork server (and its workers) and wait for it, when the runner ends."""
        if cls._current is not None:
            cls._current.close()
            cls._current = None

    def close(self) -> None:
        if getattr(self, "sock", None) is not None:
            self.sock.close()
        if getattr(self, "proc", None) is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
        if self.cgroup is not None:  # whatever of the student's is still in it
            self.cgroup.kill_all()
            self.cgroup.remove()
            self.cgroup = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        if self.pkg_dir:
            remove_tree(self.pkg_dir)
            self.pkg_dir = None

    def view_of(self, package_root: Path, home: Path | None) -> tuple[str, str]:
        """Where a worker finds the student's package and its home. In the namespaces: the
        package is copied into the folder bound read-only at VIEW_PKG (once per package) and the
        home is the view's own tmpfs; elsewhere the grader's folders themselves."""
        if self.conf.kind != "namespaces":
            return str(package_root), str(home or package_root)
        if self.staged != str(package_root):
            clear_dir(self.pkg_dir)
            shutil.copytree(package_root, self.pkg_dir, dirs_exist_ok=True)
            self.staged = str(package_root)
        return VIEW_PKG, VIEW_HOME

    def _receive(self, deadline: float | None, want: str) -> dict:
        """Read messages, keeping exit reports, until one with key ``want`` arrives."""
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                raise TimeoutError
            data = self.sock.recv(4096)
            if not data:
                raise ZygoteFailed("the fork server of the student's processes stopped "
                                   f"(exit status {self.proc.poll()})")
            message = json.loads(data)
            if "exited" in message:
                self.exits[message["exited"]] = message["status"]
            if want in message:
                return message

    def _ask(self, message: dict, want: str, deadline: float, fds: tuple[int, ...] = ()) -> dict:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
            return self._receive(deadline, want)
        except TimeoutError:  # before OSError, of which it is a kind
            raise ZygoteFailed("the fork server of the student's processes did not answer in "
                               "time") from None
        except OSError as e:
            raise ZygoteFailed(f"the fork server could not be reached ({e})") from None

    def spawn(self, request: dict, fds: tuple[int, int, int], deadline: float) -> int:
        """Fork a worker for ``request`` with its request pipe, reply pipe and log; its pid (in
        the fork server's PID namespace)."""
        pid = self._ask({"fork": request}, "forked", deadline, fds)["forked"]
        self.exits.pop(pid, None)  # an earlier worker's, if the number came round again
        return pid

    def kill(self, pid: int) -> None:
        """Kill worker ``pid`` and its process group (the fork server does: pids are its own)."""
        self._ask({"kill": pid}, "killed", time.monotonic() + 30)

    def sweep(self, keep: int | None, home: str | None) -> int:
        """Kill every process of the student's but ``keep`` and delete the files they wrote; the
        number of processes killed."""
        return self._ask({"sweep": keep, "home": home}, "swept", time.monotonic() + 60)["swept"]

    def poll(self, pid: int) -> int | None:
        """``pid``'s exit status if it has ended, else None (never waits)."""
        try:
            self._receive(time.monotonic(), "never")
        except TimeoutError:
            pass
        return self.exits.get(pid)

    def wait(self, pid: int, timeout_s: float = 10.0) -> int | None:
        """``pid``'s exit status, waiting up to ``timeout_s`` for it; kept, so that asking again
        (a crash seen on the pipe, then the kill that follows) answers at once."""
        deadline = time.monotonic() + timeout_s
        while pid not in self.exits:
            try:
                self._receive(deadline, "exited")
            except TimeoutError:
                return None
        return self.exits[pid]

class StudentProcess:
    """One worker process (forked by the zygote) and its two pipes."""

    def __init__(self, opts: SandboxOptions, deadline: float):
        self.opts = opts
        self.log = open(opts.log_path, "ab")
        self.zygote = Zygote.shared(opts.python, deadline, opts.policy)
        pkg, home = self.zygote.view_of(opts.package_root, opts.home)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
               "MPLCONFIGDIR": os.path.join(home, ".matplotlib"), "USER": "hw12student",
               "LOGNAME": "hw12student", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
               "CUDA_DEVICE_ORDER": "PCI_BUS_ID", **opts.env}
        if "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        self.home = home
        request = {"home": home, "env": env, "package_root": pkg,
                   "file_size_limit": opts.file_size_limit}
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        try:
            self.pid = self.zygote.spawn(request, (to_child_r, from_child_w, self.log.fileno()),
                                         deadline)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        os.set_blocking(self.from_child, False)
        os.set_blocking(self.to_child, False)
        self.next_id = 1
        self.answer_s = 0.0  # the runner's time answering stand-in calls (request)
        self._read(deadline, "starting Python for your code", expect_id=0)

    def alive(self) -> bool:
        return self.zygote.poll(self.pid) is None

    def kill(self) -> None:
        try:
            self.zygote.kill(self.pid)
            self.zygote.wait(self.pid)
        except ZygoteFailed:
            pass  # the fork server is gone, and its workers with it
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()

    def _wait(self, fd: int, deadline: float, write: bool, label: str) -> None:
        """Until ``fd`` is ready: StudentTimeout past ``deadline``; StudentCrashed as soon as the
        fork server reports the worker's end, even while a process it started (a daemon, a
        multiprocessing child) keeps the pipe open, so that no end of the pipe ever comes."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout(f"{label} did not finish within the time limit "
                                     "(an infinite loop, or far too much work?)")
            r, w, _ = select.select([self.zygote.sock] + ([] if write else [fd]),
                                    [fd] if write else [], [], left)
            if w or fd in r:
                return
            if r:
                try:
                    ended = self.zygote.poll(self.pid) is not None
                except ZygoteFailed:
                    ended = True  # the fork server is gone, and its workers with it
                if ended:
                    raise self._ended(label)

    def _ended(self, label: str) -> StudentCrashed:
        try:
            code = self.zygote.wait(self.pid, 2.0)
        except ZygoteFailed:
            code = None
        return StudentCrashed(f"your code's process ended during {label} (exit status {code}: "
                              "sys.exit/os._exit, a crash, or too much memory)")

    def _read_exact(self, n: int, deadline: float, label: str) -> bytes:
        chunks, left = [], n
        while left:
            self._wait(self.from_child, deadline, False, label)
            try:
                chunk = os.read(self.from_child, min(left, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise self._ended(label)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read(self, deadline: float, label: str, expect_id: int):
        length = int.from_bytes(self._read_exact(8, deadline, label), "big")
        if length > P.MAX_FRAME:
            raise StudentCrashed(f"{label} returned {length} bytes, more than the grader accepts")
        data = self._read_exact(length, deadline, label)
        try:
            reply_id, body = P.loads(data, trusted=False)
        except Exception:  # noqa: BLE001 - anything undecodable is a protocol error
            raise StudentCrashed(_STRAY_WRITE.format(label=label)) from None
        if reply_id != expect_id or not isinstance(body, tuple) or not body:
            raise StudentCrashed(_STRAY_WRITE.format(label=label))
        return body

    def _send(self, request_id: int, message: tuple, deadline: float, label: str) -> None:
        payload = P.dumps((request_id, message))
        view = memoryview(len(payload).to_bytes(8, "big") + payload)
        while view:
            self._wait(self.to_child, deadline, True, label)
            try:
                view = view[os.write(self.to_child, view):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise StudentCrashed(f"your code's process had ended before {label}") from None

    def request(self, message: tuple, deadline: float, label: str, answer=None):
        """Send ``message`` and return its reply; meanwhile each stand-in call the worker sends,
        ``(P.CALLBACK, token, args, kwargs)``, is answered with ``answer(token, args, kwargs)``.
        The time the runner spends answering moves ``deadline`` on, and adds to ``answer_s``: it
        is the grader's time, not the student's."""
        request_id, self.next_id = self.next_id, self.next_id + 1
        self._send(request_id, message, deadline, label)
        while True:
            body = self._read(deadline, label, expect_id=request_id)
            if body[0] != P.CALLBACK or answer is None or len(body) != 4:
                return body
            t0 = time.monotonic()
            reply = answer(*body[1:])
            spent = time.monotonic() - t0
            self.answer_s += spent
            deadline += spent
            self._send(request_id, reply, deadline, label)


class Sandbox:
    """Lazily started worker with per-test time limits, seeding and import bookkeeping.

    A test's time limit is charged only while the student's code runs: the time of each call into
    the worker, less the runner's answers to stand-in calls. The runner's own work between calls
    (oracles, statistics) and the worker's start-up and imports (limited on their own) are not the
    student's time, so a slower or busier machine's grader work never uses up a student's limit."""

    def __init__(self, opts: SandboxOptions):
        self.opts = opts
        self.proc: StudentProcess | None = None
        self.generation = 0
        self.left_s = float("inf")  # the student's code's time left in this test
        self.uncharged_s = 0.0
        self.seed = 0
        self.imported: set[str] = set()
        self.broken: dict[str, tuple[str, str]] = {}  # module -> (why it cannot be used, problem)
        self.stuck: dict[str, str] = {}  # function label -> how it hung or crashed (not called again)
        self.stand_ins: dict[int, tuple[str, str, Callable]] = {}  # token -> (module, name, fn)
        self.tokens = 0  # stand-ins installed so far (each gets a new token)

    # ---- lifecycle ------------------------------------------------------------------------------
    def begin_test(self, seed: int, time_limit_s: float) -> None:
        self.seed = seed
        self.left_s = time_limit_s
        self.uncharged_s = 0.0  # start-up and imports during this test: not the test's time
        if self.proc is not None and self.proc.alive():
            self._rpc(("seed", seed), "seeding")

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc = None
        self.sweep()

    def sweep(self) -> int:
        """Kill the student's processes other than the live worker (left-overs of the last test)
        and delete the files they wrote; return how many processes were killed."""
        zygote = Zygote._current
        if zygote is None or zygote.proc.poll() is not None:
            return 0  # no fork server: nothing of the student's runs (it dies with it)
        alive = self.proc is not None and self.proc.alive()
        home = VIEW_HOME if zygote.conf.kind == "namespaces" else self.opts.home
        try:
            return zygote.sweep(self.proc.pid if alive else None, str(home) if home else None)
        except ZygoteFailed:
            return 0

    def _ensure(self) -> StudentProcess:
        if self.proc is None or not self.proc.alive():
            if self.proc is not None:
                self.proc.kill()
            t0 = time.monotonic()
            self.proc = StudentProcess(self.opts, t0 + self.opts.start_timeout_s)
            self.generation += 1
            self.imported = set()
            self.uncharged_s += time.monotonic() - t0  # start-up is not the test's time
            self._rpc(("seed", self.seed), "seeding")
        return self.proc

    def _rpc(self, message: tuple, label: str, limit_s: float | None = None):
        """Send ``message`` to the worker; its reply. The call may take what is left of the test's
        time (which it uses up) or, given ``limit_s``, that long (charged to no test)."""
        proc = self._ensure()
        t0, answered = time.monotonic(), proc.answer_s
        budget = self.left_s if limit_s is None else limit_s
        try:
            status, *rest = proc.request(message, t0 + budget, label, self.answer_stand_in)
        except SandboxAbort:
            self.close()
            raise
        except Exception as e:  # noqa: BLE001 - any other failure of the exchange: out of step
            self.close()
            raise StudentCrashed(f"{label}: the exchange with your code's process failed "
                                 f"({type(e).__name__}); it was stopped and restarted") from None
        finally:
            if limit_s is None:
                self.left_s -= time.monotonic() - t0 - (proc.answer_s - answered)
        if status == "err":
            raise student_raised(label, rest)
        return rest[0]

    # ---- modules and objects --------------------------------------------------------------------
    def ensure_imported(self, name: str) -> None:
        if name in self.broken:
            message, problem = self.broken[name]
            raise StudentCrashed(message, problem)
        self._ensure()
        if name in self.imported:
            return
        t0 = time.monotonic()
        try:  # importing has its own limit, and does not count for the test
            self._rpc(("import", name), f"importing hw12/{name}.py", self.opts.import_timeout_s)
        except StudentRaised as e:
            self.broken[name] = (f"hw12/{name}.py could not be imported: {e.type_name}: "
                                 f"{e.student_message}\n{e.where}".rstrip(), "import error")
            raise StudentCrashed(*self.broken[name]) from None
        except StudentTimeout:
            self.broken[name] = (f"importing hw12/{name}.py did not finish within "
                                 f"{self.opts.import_timeout_s:.0f} s (code at module level that "
                                 "never ends?)", "time-out")
            raise StudentTimeout(*self.broken[name]) from None  # a hung import is charged, once
        self.uncharged_s += time.monotonic() - t0
        self.imported.add(name)
        for token, (module, attr, _) in self.stand_ins.items():  # a restarted worker gets them too
            if module == name:
                self._rpc(("substitute", module, attr, token), f"replacing hw12.{module}.{attr}")

    # ---- stand-ins: a correct callee that the runner computes ------------------------------------
    @contextmanager
    def substituted(self, module: "RemoteModule", name: str, fn):
        """Within the block, the student's ``module.name`` is a stand-in whose every call is
        answered by ``fn(*args, **kwargs)`` (``fn`` a function or a table, as in
        autograder/grading/testfiles.py; for ``Class.method`` its first argument stands for the instance
        and has the instance's ``training`` flag) computed here, in the runner: the worker sends the
        arguments as plain data and gets the value back, never code. Calls through the module's
        global (``name(...)`` inside the module) reach it; a reference the student's code took
        earlier (``from ... import``, a default argument) keeps the student's own function."""
        module_name = module._ref[1]
        self.ensure_imported(module_name)
        self.tokens += 1
        token = self.tokens
        self.stand_ins[token] = (module_name, name, stand_in(fn))
        try:
            self._rpc(("substitute", module_name, name, token), f"replacing {module._label}.{name}")
            yield
        finally:
            del self.stand_ins[token]
            if self.proc is not None and self.proc.alive() and module_name in self.imported:
                self._rpc(("restore", module_name, name), f"restoring {module._label}.{name}")

    def answer_stand_in(self, token, args, kwargs) -> tuple:
        """The runner's answer to one stand-in call: ``("ok", value)`` or ``("err", why)``."""
        if token not in self.stand_ins:
            return ("err", "this function is not replaced at the moment")
        module, name, fn = self.stand_ins[token]
        label = f"the grader's correct {name} (standing in for yours while another function is tested)"
        try:
            size = P.data_bytes((args, kwargs))
        except TypeError as e:
            return ("err", f"{label} takes tensors and numbers only ({e})")
        if type(args) is not tuple or type(kwargs) is not dict:
            return ("err", f"{label} was called in a malformed way")
        if size > P.MAX_CALLBACK_BYTES:
            return ("err", f"{label} accepts at most {P.MAX_CALLBACK_BYTES // 2**20} MB of "
                           f"arguments, got {size // 2**20} MB")
        if "." in name:  # a method: the first argument is the instance's mode
            if not args or type(args[0]) is not dict:
                return ("err", f"{label} was called in a malformed way")
            args = (SimpleNamespace(training=args[0].get("training")),) + args[1:]
        try:
            value = fn(*args, **kwargs)
        except AssertionError as e:  # the test's own words on how the call went wrong
            return ("err", f"{label}: {e}")
        except Exception as e:  # noqa: BLE001 - arguments it cannot use: the caller's error
            return ("err", f"{label} could not use these arguments ({type(e).__name__})")
        P.data_bytes(value)  # a value, never code (a TypeError here is the test's own bug)
        return ("ok", value)

    def module(self, name: str) -> "RemoteModule":
        return RemoteModule(self, name)

    def encode_args(self, obj, generators: list):
        import torch

        if isinstance(obj, torch.Generator):
            generators.append(obj)
            return (P.GENERATOR, len(generators) - 1, obj.get_state(), str(obj.device))
        if isinstance(obj, RemoteObject):
            if obj._generation != self.generation:
                raise StudentCrashed(f"{obj._label} belonged to a process of your code that has "
                                     "since been restarted")
            return obj._ref_tuple
        if type(obj) in (tuple, list):
            return type(obj)(self.encode_args(v, generators) for v in obj)
        if type(obj) is dict:
            return {k: self.encode_args(v, generators) for k, v in obj.items()}
        return obj

    def decode(self, obj, label: str):
        if isinstance(obj, tuple) and obj and isinstance(obj[0], str):
            if obj[0] == P.HANDLE:
                return RemoteObject(self, ("handle", obj[1]), label, obj[3], self.generation)
            if obj[0] == P.NUMPY:
                arr = obj[1].numpy()
                return arr[()] if arr.ndim == 0 else arr
        if type(obj) in (tuple, list):
            return type(obj)(self.decode(v, label) for v in obj)
        if type(obj) is dict:
            return {k: self.decode(v, label) for k, v in obj.items()}
        return obj

    def call(self, ref, name, args, kwargs, label: str, grad_wrt=None, vjp=None):
        """Call ``ref.name(*args, **kwargs)`` in the student's process; with ``grad_wrt``
        (names), ``(value, gradients)`` as ``grad_of``; with ``vjp`` (``(flags, grad_output)``),
        what ``gradients.local_vjp`` returns."""
        if label in self.stuck:  # hung or crashed before: fail at once, with the same message
            raise StudentCrashed(self.stuck[label])
        if ref[0] == "module":
            self.ensure_imported(ref[1])
        gens: list = []
        enc_args = self.encode_args(tuple(args), gens)
        enc_kwargs = self.encode_args(dict(kwargs), gens)
        if vjp is not None:
            request = ("vjp", ref, name, enc_args, enc_kwargs, list(vjp[0]), vjp[1])
        elif grad_wrt is not None:
            request = ("grad_of", ref, name, list(grad_wrt), enc_args, enc_kwargs)
        else:
            request = ("call", ref, name, enc_args, enc_kwargs)
        try:
            reply = self._rpc(request, f"{label}(...)")
        except SandboxAbort as e:
            self.stuck[label] = (f"{e} (in an earlier test; {label} is not called again, so that "
                                 "it costs no other question's time)")
            raise
        for g, state in zip(gens, reply["generators"]):
            if state is not None:
                g.set_state(state)
        value = self.decode(reply["value"], f"{label}(...)")
        if grad_wrt is None:
            return value
        return value, self.decode(reply["grads"], f"{label}(...)")

    def getattr(self, ref, name: str, label: str):
        if ref[0] == "module":
            self.ensure_imported(ref[1])
        try:
            return self.decode(self._rpc(("getattr", ref, name), f"reading {label}"), label)
        except StudentRaised as e:
            if e.type_name == "AttributeError":
                raise AttributeError(f"{label} is missing: define it with exactly this name "
                                     "(see the stub)") from None
            raise

    def builtin(self, op: str, ref, label: str):
        try:
            return self.decode(self._rpc(("builtin", op, ref), f"{op}({label})"), label)
        except StudentRaised as e:
            if e.type_name in ("TypeError", "ValueError"):  # keep len()/list() protocols working
                raise TypeError(str(e)) from None
            raise


class RemoteObject:
    """A function, class or object living in the student process."""

    def __init__(self, sandbox: Sandbox, ref, label: str, is_callable: bool, generation: int):
        object.__setattr__(self, "_sb", sandbox)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_generation", generation)

    @property
    def _ref_tuple(self):
        return (P.HANDLE, self._ref[1], "", self._callable)

    def _check(self):
        if self._ref[0] == "handle" and self._generation != self._sb.generation:
            raise StudentCrashed(f"{self._label} belonged to a process of your code that has "
                                 "since been restarted")

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        self._check()
        return self._sb.getattr(self._ref, name, f"{self._label}.{name}")

    def __setattr__(self, name, value):
        raise TypeError(f"cannot set attributes on {self._label} from a test")

    def __call__(self, *args, **kwargs):
        self._check()
        return self._sb.call(self._ref, None, args, kwargs, self._label)

    def _autograder_grad_of(self, wrt, *args, **kwargs):
        self._check()
        return self._sb.call(self._ref, None, args, kwargs, self._label, grad_wrt=wrt)

    def _autograder_vjp(self, args, kwargs, flags, grad_output):
        """``gradients.local_vjp`` of this function, run in the student's process (used by
        ``hw12.replay.differentiable``)."""
        self._check()
        return self._sb.call(self._ref, None, tuple(args), dict(kwargs), self._label,
                             vjp=(list(flags), grad_output))

    def __len__(self):
        return self._sb.builtin("len", self._ref, self._label)

    def __iter__(self):
        return iter(self._sb.builtin("list", self._ref, self._label))

    def __float__(self):
        return float(self._sb.builtin("float", self._ref, self._label))

    def __int__(self):
        return int(self._sb.builtin("int", self._ref, self._label))

    def __bool__(self):
        return self._sb.builtin("bool", self._ref, self._label) is True

    def __repr__(self):
        return f"<{self._label} in the student process>"


class RemoteModule(RemoteObject):
    """``hw12.<name>`` in the student process."""

    def __init__(self, sandbox: Sandbox, name: str):
        super().__init__(sandbox, ("module", name), f"hw12.{name}", False, -1)

    def _check(self):
        pass

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self._label} is a module, not a function")

"""The student worker: imports the submitted ``hw12`` package and answers calls from the test runner.

Each worker is a child of the fork server (zygote.py), which calls ``serve`` after confining it.

Runs untrusted code, so it knows nothing secret: it imports only the standard library, torch and the
sibling ``protocol.py``; tests, oracles and reference code stay in the runner process. Every reply is
made of plain data (see protocol.py); anything else stays here and is referred to by a handle.
"""
from __future__ import annotations

import importlib
import os
import random
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol as P  # noqa: E402 - the sibling files, found through the line above
from gradients import local_grad_of, local_vjp  # noqa: E402

MAX_MESSAGE = 4000  # characters of an exception message or traceback sent back
MISSING = object()  # a module attribute the student did not define


class Worker:
    def __init__(self, package_root: str, fd_in: int = -1, fd_out: int = -1):
        self.package_root = os.path.realpath(package_root)
        self.fd_in, self.fd_out = fd_in, fd_out
        self.request_id = 0  # the request being answered (a stand-in's call carries its id)
        self.handles: dict[int, object] = {}
        self.handle_of: dict[int, int] = {}  # id(obj) -> handle number
        self.replaced: dict[tuple[str, str], object] = {}  # (module, name) -> the student's own

    # ---- encoding of replies: plain data only ---------------------------------------------------
    def handle(self, obj) -> tuple:
        key = id(obj)
        if key not in self.handle_of:
            self.handle_of[key] = len(self.handles) + 1
            self.handles[self.handle_of[key]] = obj
        return (P.HANDLE, self.handle_of[key], type(obj).__qualname__, callable(obj))

    def encode(self, x, depth: int = 0, values_only: bool = False):
        """``x`` as plain data; other objects become handles (or, ``values_only``, a TypeError)."""
        import torch

        t = type(x)
        if x is None or t in (bool, int, float, str, complex):
            return x
        if depth > 20:
            raise ValueError("returned value is nested too deeply")
        if isinstance(x, torch.Tensor):
            x = x.detach()
            if type(x) is not torch.Tensor:  # Parameter or a subclass: keep only the data
                x = x.as_subclass(torch.Tensor)
            return x.clone()  # a view would otherwise carry its whole storage
        if isinstance(x, (torch.dtype, torch.device)):
            return x
        if isinstance(x, tuple) and t.__module__ in ("builtins", "torch"):
            return tuple(self.encode(v, depth + 1, values_only) for v in x)
        if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple: keep the values
            return tuple(self.encode(v, depth + 1, values_only) for v in x)
        if t is list:
            return [self.encode(v, depth + 1, values_only) for v in x]
        if t is dict and all(type(k) is str for k in x):
            return {k: self.encode(v, depth + 1, values_only) for k, v in x.items()}
        if t.__module__ == "numpy" and hasattr(x, "dtype"):  # ndarray or numpy scalar
            import numpy as np

            arr = np.asarray(x)
            if arr.dtype.kind in "biuf":
                return (P.NUMPY, torch.from_numpy(np.array(arr, copy=True)))
        if values_only:
            raise TypeError(f"a {t.__name__} cannot be passed here: tensors and numbers only")
        return self.handle(x)

    # ---- decoding of requests -------------------------------------------------------------------
    def decode(self, x, generators: list):
        import torch

        if isinstance(x, tuple) and x and isinstance(x[0], str):
            if x[0] == P.HANDLE:
                return self.handles[x[1]]
            if x[0] == P.GENERATOR:
                _, slot, state, device = x
                g = torch.Generator(device=device)
                g.set_state(state)
                while len(generators) <= slot:
                    generators.append(None)
                generators[slot] = g
                return g
        if type(x) in (tuple, list):
            return type(x)(self.decode(v, generators) for v in x)
        if type(x) is dict:
            return {k: self.decode(v, generators) for k, v in x.items()}
        return x

    def resolve(self, ref):
        kind, value = ref
        if kind == "module":
            return importlib.import_module(f"hw12.{value}")
        return self.handles[value]

    # ---- commands -------------------------------------------------------------------------------
    def cmd_import(self, name):
        importlib.import_module(f"hw12.{name}")
        return None

    def cmd_getattr(self, ref, name):
        return self.encode(getattr(self.resolve(ref), name))

    def cmd_call(self, ref, name, args, kwargs):
        gens: list = []
        target = self.resolve(ref)
        fn = getattr(target, name) if name else target
        out = fn(*self.decode(args, gens), **self.decode(kwargs, gens))
        return {"value": self.encode(out), "generators": [g.get_state() if g else None for g in gens]}

    def cmd_grad_of(self, ref, name, wrt, args, kwargs):
        gens: list = []
        target = self.resolve(ref)
        fn = getattr(target, name) if name else target
        out, grads = local_grad_of(fn, wrt, *self.decode(args, gens), **self.decode(kwargs, gens))
        return {"value": self.encode(out), "grads": self.encode(grads),
                "generators": [g.get_state() if g else None for g in gens]}

    def cmd_vjp(self, ref, name, args, kwargs, flags, grad_output):
        gens: list = []
        target = self.resolve(ref)
        fn = getattr(target, name) if name else target
        value = local_vjp(fn, self.decode(args, gens), self.decode(kwargs, gens), flags, grad_output)
        return {"value": self.encode(value), "generators": [g.get_state() if g else None for g in gens]}

    def cmd_builtin(self, op, ref):
        obj = self.resolve(ref)
        fn = {"len": len, "list": list, "float": float, "int": int, "bool": bool, "str": str,
              "repr": repr}[op]
        return self.encode(fn(obj))

    def cmd_substitute(self, module, name, token):
        """Make ``hw12.<module>.<name>`` (a function, or ``Class.method``) a stand-in whose calls the
        runner answers (values only)."""
        owner, attr = owner_of(module, name)
        self.replaced.setdefault((module, name), owner.__dict__.get(attr, MISSING))
        setattr(owner, attr, self.stand_in(name, token, method=owner is not sys.modules[
            f"hw12.{module}"]))
        return None

    def cmd_restore(self, module, name):
        """Put the student's own ``name`` back (or nothing, if they had none) after a substitute."""
        (owner, attr), own = owner_of(module, name), self.replaced.pop((module, name))
        if own is MISSING:
            delattr(owner, attr)
        else:
            setattr(owner, attr, own)
        return None

    def stand_in(self, name: str, token: int, method: bool):
        """A function that sends its arguments (tensors and numbers; for a ``method``, in place of
        the instance, its mode ``{"training": bool}``) to the runner and returns the value the
        runner computes; it runs nothing else."""
        worker = self

        def stand_in(*args, **kwargs):
            if method:
                mode = getattr(args[0], "training", None)
                args = ({"training": mode} if type(mode) is bool else {},) + args[1:]
            question = (P.CALLBACK, token, worker.encode(args, values_only=True),
                        worker.encode(kwargs, values_only=True))
            P.write_frame(worker.fd_out, P.dumps((worker.request_id, question)))
            answer_id, (status, value) = P.loads(P.read_frame(worker.fd_in), trusted=True)
            if answer_id != worker.request_id:
                raise P.ProtocolError("the grader's answer belongs to another request")
            if status != "ok":
                raise ValueError(value)
            return value

        stand_in.__name__ = stand_in.__qualname__ = name
        return stand_in

    def cmd_seed(self, seed):
        import numpy as np
        import torch

        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        return None

    # ---- error reports --------------------------------------------------------------------------
    def describe(self, exc: BaseException) -> tuple:
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if os.path.realpath(f.filename).startswith(self.package_root)]
        lines = []
        for f in mine[-4:]:
            rel = os.path.relpath(os.path.realpath(f.filename), self.package_root)
            lines.append(f'  File "{rel}", line {f.lineno}, in {f.name}\n    {f.line or ""}')
        if isinstance(exc, SyntaxError) and exc.filename:
            rel = os.path.relpath(os.path.realpath(exc.filename), self.package_root)
            lines.append(f'  File "{rel}", line {exc.lineno}\n    {(exc.text or "").rstrip()}')
        try:
            message = str(exc)
        except BaseException:  # noqa: BLE001 - a hostile __str__
            message = "<exception message could not be printed>"
        return ("err", type(exc).__name__, message[:MAX_MESSAGE], "\n".join(lines)[:MAX_MESSAGE])


def owner_of(module: str, name: str):
    """(object, attribute) that ``name`` ("function" or "Class.method") of ``hw12.<module>`` names."""
    owner = importlib.import_module(f"hw12.{module}")
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def serve(fd_in: int, fd_out: int, package_root: str) -> None:
    """Answer the runner's requests on ``fd_in`` with replies on ``fd_out`` until it hangs up."""
    sys.path.insert(0, package_root)  # the working folder is the student's writable home
    worker = Worker(package_root, fd_in, fd_out)
    import torch  # noqa: F401 - imported before any request, so request timing excludes it

    torch.set_num_threads(int(os.environ.get("HW12_WORKER_THREADS", "1")))
    P.write_frame(fd_out, P.dumps((0, ("ready", None))))
    while True:
        try:
            request_id, request = P.loads(P.read_frame(fd_in), trusted=True)
        except EOFError:
            return
        command, *args = request
        worker.request_id = request_id
        try:
            reply = ("ok", getattr(worker, f"cmd_{command}")(*args))
            payload = P.dumps((request_id, reply))
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            payload = P.dumps((request_id, worker.describe(exc)))
        P.write_frame(fd_out, payload)

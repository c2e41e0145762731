"""Wire formats: supervisor <-> trusted runner (typed JSON records), runner <-> student worker (frames).

Supervisor -> runner: a ``Job`` (JSON file; its path is one line on the runner's stdin). Runner ->
supervisor: ``Event`` records, one JSON line each, appended to the job's events file: ``start`` and
``end`` for every case it runs, then ``done`` when the job is over and the runner is free again.

Runner <-> worker:

Stdlib and torch only: the worker imports this file as a sibling script, without the autograder
package. Frames are an 8-byte big-endian length followed by a ``torch.save`` payload.

Direction runner -> worker: ordinary pickling (the worker trusts its caller).
Direction worker -> runner: the runner loads with ``torch.load(weights_only=True)``, which only
rebuilds tensors and plain Python data, so nothing the student returns can run code or override
``__eq__`` in the runner. Objects that are not plain data stay in the worker and travel as handles.
Markers are tuples whose first element is one of the tags below.

Every frame's payload is ``(request_id, body)``: the worker answers each request with its id (the
start-up frame has id 0), so a reply that is not the answer to the request just sent (a stray
write by the student's code or a child it forked into the inherited pipe) is detected, and the
runner kills and restarts the worker instead of reading the pipe out of step.

Stand-ins (a test's ``substituted``): while a request runs, the worker may send, with the request's
id, ``(CALLBACK, token, args, kwargs)`` instead of the reply: a call of a stand-in the runner
installed in the student's module. The runner answers with ``("ok", value)`` or ``("err",
message)`` under the same id and goes on waiting for the reply. The arguments are decoded like any
reply (plain data only, at most MAX_CALLBACK_BYTES) and the answer is a value, never code.
"""
from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import asdict, dataclass, field

HANDLE = "__hw12_handle__"  # (HANDLE, id, type_name, is_callable)
GENERATOR = "__hw12_generator__"  # (GENERATOR, slot, state_tensor, device_str)
NUMPY = "__hw12_numpy__"  # (NUMPY, tensor)

MAX_FRAME = 512 * 1024 * 1024  # a reply larger than this is refused (memory guard for the runner)
CALLBACK = "__hw12_callback__"  # (CALLBACK, token, args, kwargs): a stand-in asks the runner
MAX_CALLBACK_BYTES = 16 * 1024 * 1024  # the arguments of one stand-in call, at most
_HEADER = struct.Struct(">Q")


class FrameTooLarge(Exception):
    """The peer announced a frame above MAX_FRAME."""


class ProtocolError(Exception):
    """A frame that cannot be decoded, or that does not answer the request just sent."""


def dumps(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def loads(data: bytes, trusted: bool):
    import torch

    return torch.load(io.BytesIO(data), weights_only=not trusted, map_location=None)


def data_bytes(x, depth: int = 0) -> int:
    """The size of plain data ``x`` (None, numbers, strings, tensors, dtypes, and tuples, lists and
    str-keyed dicts of them) in bytes, roughly; TypeError for anything else."""
    import torch

    if depth > 20:
        raise TypeError("nested too deeply")
    if x is None or type(x) in (bool, int, float, complex, torch.dtype, torch.device):
        return 8
    if type(x) is str:
        return len(x)
    if type(x) is torch.Tensor:
        return x.numel() * x.element_size()
    if type(x) in (tuple, list):
        return 8 + sum(data_bytes(v, depth + 1) for v in x)
    if type(x) is dict and all(type(k) is str for k in x):
        return 8 + sum(len(k) + data_bytes(v, depth + 1) for k, v in x.items())
    raise TypeError(f"{type(x).__name__} is not plain data")


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    (length,) = _HEADER.unpack(read_exact(fd, _HEADER.size))
    if length > MAX_FRAME:
        raise FrameTooLarge(f"reply of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    return read_exact(fd, length)


# ---- supervisor <-> runner ------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseSpec:
    """One test case to run: ``function`` of the otter test file ``file``."""

    id: str
    file: str
    function: str
    tier: str  # cpu | gpu
    visibility: str
    time_limit_s: float
    seed: int


@dataclass(frozen=True)
class Job:
    """What one grading asks of a runner: the cases to run and where everything is."""

    cases: tuple[CaseSpec, ...]
    events: str  # the events file (JSON lines) the runner appends to
    package_root: str  # the student's package (pkg/), readable by the worker
    submission_dir: str  # the submitted data files (the runner's only)
    worker_log: str
    student_home: str
    trusted_release: str  # given support code the tests may import
    start_timeout_s: float
    import_timeout_s: float
    device: str | None = None  # None: cuda where available
    cpu_fallback: bool = False  # GPU-tier cases run in their reduced CPU version
    confinement: dict = field(default_factory=dict)  # a confinement.Policy, as a dict
    missing_modules: dict[str, str] = field(default_factory=dict)  # module -> why it is missing
    # False: the job's fork server (its namespaces, uid and cgroup) ends with the job, so nothing a
    # submission leaves in it (processes, shared memory, a stopped server) reaches the next grading
    # of the same runner. True only for the project's own code (validate), to start it once.
    keep_fork_server: bool = False

    def write(self, path) -> None:
        with open(path, "w") as f:
            json.dump(asdict(self), f)

    @classmethod
    def read(cls, path) -> "Job":
        with open(path) as f:
            data = json.load(f)
        return cls(**{**data, "cases": tuple(CaseSpec(**c) for c in data["cases"])})


# Why a test failed, when it is more than a wrong value: decided where it is detected (the
# sandbox, the runner, the supervisor, the given code's checks of a notebook's output file),
# carried by the ``end`` event and results.json (a test's ``extra_data["problem"]``, which students
# do not see), and shown to staff as the batch report's flags.
PROBLEMS = ("missing files", "import error", "runtime error", "time-out", "module hash mismatch",
            "log does not replay", "grader error")


@dataclass(frozen=True)
class Event:
    """One line of the events file."""

    event: str  # confined (message: the confinement record, JSON) | start | end | done
    id: str = ""
    status: str = ""  # passed | failed | skipped (end only)
    message: str = ""
    seconds: float = 0.0
    problem: str = ""  # a failed case's kind of failure (PROBLEMS), "" for a wrong value

    def line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def parse(cls, line: bytes) -> "Event | None":
        try:
            data = json.loads(line)
            return cls(**data)
        except (ValueError, TypeError):
            return None

"""Wire format shared by the trusted test runner and the untrusted student worker.

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
"""
from __future__ import annotations

import io
import os
import struct

HANDLE = "__hw12_handle__"  # (HANDLE, id, type_name, is_callable)
GENERATOR = "__hw12_generator__"  # (GENERATOR, slot, state_tensor, device_str)
NUMPY = "__hw12_numpy__"  # (NUMPY, tensor)

MAX_FRAME = 512 * 1024 * 1024  # a reply larger than this is refused (memory guard for the runner)
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

"""Otter test files, run in this process: loading their cases, seeding, the submitted files.

One mechanism for everyone who runs a test file: the grader's runner (against the sandboxed student
code), ``python -m autograder.checks.localrun`` and the project's tests (against a module in this process),
and the student release's checks (``build`` copies this file to ``assignment/tests/otter_cases.py``,
with each public case's seed in ``case_seeds.json``). Standard library only; numpy and torch are
imported when seeding.

A test file defines functions decorated with ``otter.test_files.test_case``; their parameters are
filled by name: a module of the ``hw12`` package, ``submission`` (a ``SubmissionFiles``),
``device`` or ``substituted`` (see ``substituted`` below; the grader's runner passes its sandboxed
version). Case ids are ``<question>/<public|hidden>/<function>``.

A failing case is told to the student by :func:`student_message`, on every path.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import io
import json
import random
import sys
import tokenize
import traceback
import types
from contextlib import contextmanager
from pathlib import Path


class test_case:  # noqa: N801 - same name and signature as otter.test_files.test_case
    """Drop-in for ``otter.test_files.test_case`` (otter itself pulls in pandas)."""

    def __init__(self, name=None, points=None, hidden=False, success_message=None,
                 failure_message=None):
        self.name, self.points, self.hidden = name, points, hidden
        self.success_message, self.failure_message = success_message, failure_message
        self.test_func = None

    def __call__(self, func):
        self.test_func = func
        return self


def install_otter_shim() -> None:
    """Make ``from otter.test_files import test_case`` resolve to the class above, unless otter's own
    module is already imported (as in a notebook using otter; both classes have the same
    attributes). Importing otter itself takes seconds."""
    if "otter.test_files" in sys.modules:
        return
    otter = sys.modules.setdefault("otter", types.ModuleType("otter"))
    shim = types.ModuleType("otter.test_files")
    shim.test_case = test_case
    otter.test_files = shim
    sys.modules["otter.test_files"] = shim


def load_test_cases(path: Path) -> list:
    """Execute one test file; its ``test_case`` objects in file order."""
    install_otter_shim()
    from otter.test_files import test_case as otter_test_case

    path = Path(path)
    env = {"__name__": f"hw12_tests_{path.parent.name}_{path.stem}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), env)
    return [v for v in env.values() if isinstance(v, (test_case, otter_test_case))]


_MISSING = object()  # a module attribute the student did not define


def stand_in(fn):
    """``fn`` as a function: a dict is a table {arguments: value} of a few exact calls, looked up
    element by element along a tensor argument (giving a tensor of the default floating dtype with
    its shape and device); arguments outside the table raise KeyError."""
    if not isinstance(fn, dict):
        return fn

    def lookup(*args, **kwargs):
        import torch

        args = args + tuple(kwargs.values())
        at = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
        if not at:
            return fn[args]
        (i,) = at  # one tensor argument
        values = [fn[args[:i] + (v,) + args[i + 1:]] for v in args[i].reshape(-1).tolist()]
        return torch.tensor(values, device=args[i].device).reshape(args[i].shape)

    return lookup


@contextmanager
def substituted(module, name: str, fn):
    """Within the block, ``module.name`` is ``fn`` (a function, or a table: see ``stand_in``): a
    test of one question calls the student's function with a correct callee in place of the
    student's own (each question graded on its own). ``name`` may be ``Class.method``: ``fn`` then
    gets the instance first (in the grader: an object with the instance's ``training`` flag only).
    Reaches the calls made through the module's
    global (or the class); a reference taken earlier (``from ... import``, a default argument)
    keeps the student's function. The grader's runner does the same with a stand-in that asks it
    for ``fn``'s values (autograder/grading/sandbox/client.py)."""
    *path, attr = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    own, fn = owner.__dict__.get(attr, _MISSING), stand_in(fn)
    setattr(owner, attr, fn)
    try:
        yield
    finally:
        if own is _MISSING:
            delattr(owner, attr)
        else:
            setattr(owner, attr, own)


def case_id(question: str, visibility: str, function: str) -> str:
    return f"{question}/{visibility}/{function}"


def case_seed(base: int, case: str) -> int:
    """The seed of the case with id ``case`` under the base seed ``base``."""
    digest = hashlib.sha256(case.encode()).digest()
    return (base + int.from_bytes(digest[:4], "big")) % 2**31


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators before a case."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_key(file_name: str, function: str) -> str:
    """The key of a public case in the release's ``case_seeds.json``: ``"<file name>::<function>"``."""
    return f"{file_name}::{function}"


def seed_of(seeds: dict[str, int], file_name: str, function: str) -> int:
    """A public case's seed from ``case_seeds.json``; 0 for a file the student added."""
    return seeds.get(seed_key(file_name, function), 0)


def run_case(case, seed: int, root: Path, device: str = "cpu", module=None) -> None:
    """Run one case in this process, as the release's checks do: seed it with ``seed`` (the
    grader's seed of the case), then call its function with each parameter filled by name:
    ``device``, ``submission`` (the files under ``root``), ``substituted`` or the module
    ``hw12.<name>`` (looked up with ``module(name)``, by default a plain import). Raises what the
    case raises."""
    module = module or (lambda name: importlib.import_module(f"hw12.{name}"))
    seed_everything(seed)
    fixed = {"device": device, "submission": SubmissionFiles(root), "substituted": substituted}
    case.test_func(**{name: fixed[name] if name in fixed else module(name)
                      for name in inspect.signature(case.test_func).parameters})


class SubmissionError(ValueError):
    """A submitted data file is unusable (too large, not JSON, outside the submission)."""


class MissingFile(FileNotFoundError):
    """A data file a check needs is not in the submission; its message is the student's."""

    problem = "missing files"  # the staff report's flag (sandbox/protocol.PROBLEMS)


class SubmissionFiles:
    """Read-only access to the data files next to the code (answers, logs)."""

    MAX_BYTES = 32 * 1024 * 1024

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if self.root.resolve() not in p.parents:
            raise SubmissionError(f"{rel} is outside the submission")
        return p

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def require(self, rel: str, message: str) -> None:
        """Raise MissingFile(``message``) unless ``rel`` is in the submission."""
        if not self.exists(rel):
            raise MissingFile(message)

    def read_bytes(self, rel: str) -> bytes:
        p = self._path(rel)
        if not p.is_file():
            raise MissingFile(f"{rel} is not there yet: run the notebook that writes it, and "
                                    "upload it with the code (python -m hw12.export writes the "
                                    "upload)")
        if p.stat().st_size > self.MAX_BYTES:
            raise SubmissionError(f"{rel} is larger than {self.MAX_BYTES // 2**20} MB")
        return p.read_bytes()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8", errors="replace")

    def read_json(self, rel: str):
        try:
            return json.loads(self.read_text(rel))
        except json.JSONDecodeError as e:
            raise SubmissionError(f"{rel} is not valid JSON (line {e.lineno}: {e.msg}); "
                                  "re-run the notebook to write it again") from None


# ---- what a student reads when a case fails --------------------------------------------------------
MAX_LINES = 30        # a message is cut to this many lines
MAX_FRAMES = 4        # the innermost frames of the student's own files that a message shows
MAX_ERROR_LINES = 8   # lines of the message of an error raised by the student's code
MAX_INPUT_CHARS = 100  # one failing input, written out, before it is cut short
# how the notes that the property-testing library appends to a failure begin: the first such note
# and all after it are the library's (the check's own notes come first); only the failing inputs
# are kept from them
GENERATED_INPUTS = ("Falsifying example:", "Failing test case:")
LIBRARY_NOTES = GENERATED_INPUTS + ("Falsifying explicit example:", "Draw ", "Explanation:",
                                    "You can reproduce", "Unreliable", "while generating",
                                    "while drawing", "Highest target score")


GIVEN_CHECKS = ("hw12/replay.py",)  # given modules whose AssertionErrors are a check's words


def student_message(exc: BaseException) -> str:
    """What a student reads when a case fails with ``exc``, in the student's terms: the check's own
    words (an assertion), or the error their code raised with the lines of their code that raised
    it; then the failing inputs a property check found, and the check's hints (its notes). Never
    the test runner's, the grader's or a library's frames or names.

    An error raised in the sandboxed student process arrives with ``type_name``,
    ``student_message`` and ``where`` (its frames, already in this form) instead of a traceback."""
    while isinstance(exc, BaseExceptionGroup):  # several failures found at once: the first one
        exc = exc.exceptions[0]
    type_name = getattr(exc, "type_name", type(exc).__name__)
    text = getattr(exc, "student_message", None)
    text = str(exc) if text is None else text
    where = getattr(exc, "where", None)
    frames = _frames(exc, "hw12/")
    checks = isinstance(exc, AssertionError) and frames.rsplit('File "', 1)[-1].startswith(
        GIVEN_CHECKS)  # raised by a given module's own check, not by the student's code
    theirs = where is not None or (bool(frames) and not checks)
    where = frames if where is None else where
    if type_name == "NotImplementedError":
        lines = [text if "not implemented yet" in text.lower() else f"Not implemented yet: {text}"]
    elif isinstance(exc, AssertionError) and not theirs:
        lines = [text or "a check failed"]
    elif theirs:
        error = text.splitlines()[:MAX_ERROR_LINES] or [""]
        lines = [f"Your code raised {type_name}: {error[0]}", *error[1:], where]
    elif isinstance(exc, (SubmissionError, FileNotFoundError)):
        lines = [text]
    elif isinstance(exc, AttributeError) and isinstance(exc.obj, types.ModuleType) \
            and exc.obj.__name__.startswith("hw12"):
        lines = [f"{exc.obj.__name__}.{exc.name} is missing: define it with exactly this name "
                 "(see the stub)"]
    else:
        lines = [f"The check could not use what your code returned ({type_name}: {text}); "
                 "compare the returned types and shapes with the docstring.", _frames(exc, "tests/")]
    notes = [str(n) for n in getattr(exc, "__notes__", None) or ()]
    first = next((i for i, n in enumerate(notes) if n.startswith(LIBRARY_NOTES)), len(notes))
    inputs = [i for n in notes[first:] for i in failing_inputs(n)]
    if inputs and type_name != "NotImplementedError":
        lines.append(f"Failing inputs: {', '.join(inputs)}")
    lines += notes[:first]
    out = "\n".join(line for line in lines if line).splitlines()
    return "\n".join(out if len(out) <= MAX_LINES else out[:MAX_LINES - 1] + ["..."])


def _shown_path(filename: str) -> str | None:
    """How a frame's file is named to the student (as in their copy of the assignment), or None
    for a file that is not theirs: the ``hw12`` package, and the public check files."""
    path = Path(filename)
    if path.parent.name == "hw12":
        return f"hw12/{path.name}"
    if path.parent.name in ("tests", "public") and path.name.startswith("q"):
        return f"tests/{path.name}"
    return None


def _frames(exc: BaseException, folder: str) -> str:
    """The innermost frames of ``exc``'s traceback in the student's files under ``folder``
    (``"hw12/"``: their code; ``"tests/"``: the public checks), formatted as Python formats a
    traceback's entries ('' when there is none)."""
    shown = [(_shown_path(f.filename) or "", f) for f in traceback.extract_tb(exc.__traceback__)]
    lines = [f'  File "{path}", line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}'
             for path, f in [(p, f) for p, f in shown if p.startswith(folder)][-MAX_FRAMES:]]
    if isinstance(exc, SyntaxError) and (_shown_path(exc.filename or "") or "").startswith(folder):
        lines.append(f'  File "{_shown_path(exc.filename)}", line {exc.lineno}\n'
                     f'    {(exc.text or "").strip()}')  # the line that does not compile
    return "\n".join(lines)


def failing_inputs(note: str) -> list[str]:
    """The inputs named in a property check's note on its failing example, as plain
    ``name = value`` strings ('x0 of shape (2, 3)' for a tensor); [] for any other note."""
    if note.startswith("Draw "):
        label, _, value = note.partition(":")
        name = label[label.find("(") + 1:label.rfind(")")] if "(" in label else label.lower()
        return [f"{name} = {_plain(_without_comments(value).strip())}"]
    if not note.startswith(GENERATED_INPUTS):
        return []
    source = _without_comments(note.partition(":")[2]).strip()
    try:
        call = ast.parse(source, mode="eval").body
    except SyntaxError:
        return []
    if not isinstance(call, ast.Call):
        return []
    out = []
    for kw in call.keywords:
        value = ast.get_source_segment(source, kw.value) or ""
        if kw.arg and not value.startswith("data("):  # drawn values come as notes of their own
            out.append(_described(kw.arg, kw.value, value))
    return out


def _without_comments(code: str) -> str:
    """Python source without its comments (the library annotates each input)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, SyntaxError):
        return code


def _described(name: str, node: ast.expr, source: str) -> str:
    """``name = value``, or ``name of shape (...)`` for an array or tensor written out in full."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) \
            in ("tensor", "array") and node.args:
        try:
            return f"{name} of shape {_shape(ast.literal_eval(node.args[0]))}"
        except (ValueError, TypeError, SyntaxError):  # not a literal: written out below
            pass
    return f"{name} = {_plain(source)}"


def _shape(value) -> tuple:
    """The shape of a nested list of numbers."""
    return (len(value), *_shape(value[0])) if isinstance(value, list) and value else \
        ((0,) if isinstance(value, list) else ())


def _plain(value: str) -> str:
    """One input on one line, cut short when long."""
    value = " ".join(value.split())
    return value if len(value) <= MAX_INPUT_CHARS else value[:MAX_INPUT_CHARS - 3] + "..."

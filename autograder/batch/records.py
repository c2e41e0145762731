"""The typed records of a batch: what crosses from the command to the grading processes (a slot's
``serve``, a cluster job's ``chunk``) and what each grading leaves in ``OUT/<id>/grading.json``.

    BatchOptions  the command's options (``grade EXPORT ...``), in the staff process only
    RunSpec       what every grading of one run shares (JSON on a slot's command line, in a chunk file)
    Item          one submission to grade (a JSON line to a slot)
    Done          a slot's reply that it finished an item (a JSON line back)
    ChunkSpec     a cluster job: the run, its items, its slots and the time-out of each grading
    GradingState  grading.json: status, content hash, where it ran, confinement, notebook runs, seal
    Flag          one flag of the staff report: a kind (FLAG_KINDS) and the words staff read
    Student, Submission   who handed in what (submission_metadata.yml and the export's folders)

Records are frozen dataclasses, written with ``to_json`` and read with ``from_json``, which refuses
a record with missing or unknown fields (``RecordError``), so a file of another version is never
half read.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from autograder.grading.sandbox.protocol import PROBLEMS


class RecordError(ValueError):
    """A JSON record with missing or unknown fields, or not a JSON object."""


class _Record:
    """``to_dict``/``to_json`` and ``from_dict``/``from_json`` for a dataclass of plain fields (and
    lists of records, named in ``_nested``)."""

    _nested: dict[str, type] = {}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise RecordError(f"{cls.__name__}: not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        if set(data) - names or required - set(data):
            raise RecordError(f"{cls.__name__}: unknown fields {sorted(set(data) - names)}, "
                              f"missing fields {sorted(required - set(data))}")
        values = dict(data)
        for name, kind in cls._nested.items():
            if name in values:
                if not isinstance(values[name], list):
                    raise RecordError(f"{cls.__name__}.{name}: not a list")
                values[name] = [kind.from_dict(v) for v in values[name]]
        return cls(**values)

    @classmethod
    def from_json(cls, text: str):
        try:
            return cls.from_dict(json.loads(text))
        except ValueError as e:
            raise RecordError(f"{cls.__name__}: {e}") from e


# ---- the command ------------------------------------------------------------------------------------
@dataclass
class BatchOptions:
    part: str | None = None
    tier: str = "cpu"
    device: str | None = None
    questions: list[str] | None = None
    jobs: int = 1
    force: bool = False
    gpus: list[str] | None = None
    jobs_per_gpu: int = 1
    executor: str = "local"  # local | slurm | submitit-local
    slurm: dict = field(default_factory=dict)
    chunk_size: int = 25
    compare: Path | None = None
    submission_timeout_s: float | None = None
    progress: bool = True
    unconfined: bool = False  # staff accepted running the submissions as themselves


# ---- across processes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec(_Record):
    """What every grading of one run shares."""

    root: str  # the repository (Layout root)
    out: str  # the output folder, absolute
    parts: list[str]
    tier: str
    device: str | None
    questions: list[str] | None
    run: str  # this run's id: a grading.json of this run carries it
    unconfined: bool = False
    slots: int = 1  # gradings at once on this machine: each takes its share of memory and CPUs


@dataclass(frozen=True)
class Item(_Record):
    """One submission to grade."""

    id: str
    path: str | None  # None: listed in the metadata but not in the export
    hash: str  # the content hash a finished grading records (what makes a rerun reuse it)
    gpu: str | None = None  # the slot's GPU, filled in when a slot takes it


@dataclass(frozen=True)
class Done(_Record):
    """A slot's reply: it has finished grading ``id`` (its grading.json says how)."""

    id: str


@dataclass(frozen=True)
class ChunkSpec(_Record):
    """One cluster job (``python -m autograder.batch chunk FILE``)."""

    spec: RunSpec
    items: list[Item]
    jobs_per_task: int
    jobs_per_gpu: int
    timeout_s: float
    _nested = {"items": Item}

    @classmethod
    def from_dict(cls, data):
        if isinstance(data, dict) and "spec" in data:
            data = {**data, "spec": RunSpec.from_dict(data["spec"])}
        return super().from_dict(data)


# ---- the report's flags -----------------------------------------------------------------------------
# A flag's kind: a test's problem (grading/sandbox/protocol.PROBLEMS, decided where it was
# detected), a grading that did not finish, or something about the submission itself.
Status = Literal["graded", "not graded", "grader error", "stopped"]
UNFINISHED: tuple[Status, ...] = ("not graded", "stopped", "grader error")
FLAG_KINDS = (*PROBLEMS, *UNFINISHED, "identity", "same notebook run")


@dataclass(frozen=True)
class Flag(_Record):
    kind: str  # one of FLAG_KINDS
    text: str  # what staff read in scores.csv and the report

    def __post_init__(self):
        if self.kind not in FLAG_KINDS:
            raise RecordError(f"unknown flag kind {self.kind!r}")


# ---- grading.json -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GradingState(_Record):
    """``OUT/<id>/grading.json``. ``hash`` is None when the grading did not finish (a rerun grades
    it again); ``mac`` seals the record and the results files beside it (state.seal)."""

    submission: str
    parts: list[str]
    status: Status
    reason: str
    hash: str | None
    run: str
    host: str = ""
    gpu: str | None = None
    cpus: list[int] | None = None
    seconds: float = 0.0
    finished_at: str = ""
    confinement: dict | None = None  # what confined the code (sandbox/confinement.py's record)
    # {data file: identity of the notebook run that wrote it} (shared_runs.notebook_run_identity)
    runs: dict[str, str] = field(default_factory=dict)
    mac: str | None = None

    def __post_init__(self):
        if self.status not in ("graded", *UNFINISHED):
            raise RecordError(f"unknown status {self.status!r}")

    def unsealed(self) -> dict:
        """The record without its seal: what the seal covers."""
        return {k: v for k, v in self.to_dict().items() if k != "mac"}

    def flags(self) -> list[Flag]:
        """The flag of a grading that did not finish, if it did not."""
        if self.status == "graded":
            return []
        return [Flag(self.status, f"{self.status}: {self.reason}".strip())]


# ---- identity -----------------------------------------------------------------------------------
@dataclass
class Student:
    name: str = ""
    sid: str = ""
    email: str = ""


@dataclass
class Submission:
    id: str
    path: Path | None  # None: listed in the metadata but not in the export
    students: list[Student] = field(default_factory=list)
    submitted_at: str = ""
    flags: list[Flag] = field(default_factory=list)  # identity problems and shared notebook runs

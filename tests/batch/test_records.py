"""The batch's typed records (autograder/batch/records.py): what crosses processes and files is
written and read back unchanged, and a record of another shape is refused, never half read."""
from __future__ import annotations

import json

import pytest

from autograder.batch.records import (
    ChunkSpec,
    Done,
    Flag,
    GradingState,
    Item,
    RecordError,
    RunSpec,
)

SPEC = RunSpec(root="/r", out="/o", parts=["diffusion"], tier="cpu", device=None,
               questions=["q1a"], run="20261205T000000-1", unconfined=False, slots=2)
STATE = GradingState(submission="s1", parts=["rlhf"], status="graded", reason="", hash="ab",
                     run="r", host="h", gpu="0", cpus=[0, 1], seconds=1.5, finished_at="t",
                     confinement={"kind": "namespaces"}, runs={"submission_log.json": "cd"},
                     mac="ef")


@pytest.mark.parametrize("record", [
    SPEC, Item(id="s1", path=None, hash="ab", gpu="1"), STATE, Done(id="s1"),
    ChunkSpec(spec=SPEC, items=[Item(id="s1", path="/x", hash="h")], jobs_per_task=2,
              jobs_per_gpu=1, timeout_s=90.0),
], ids=lambda r: type(r).__name__)
def test_a_record_reads_back_as_written(record):
    assert type(record).from_json(record.to_json()) == record


def test_grading_json_of_another_shape_is_refused():
    data = json.loads(STATE.to_json())
    with pytest.raises(RecordError, match="unknown fields"):
        GradingState.from_dict({**data, "colour": "red"})
    with pytest.raises(RecordError, match="missing fields"):
        GradingState.from_dict({k: v for k, v in data.items() if k != "hash"})
    with pytest.raises(RecordError, match="status"):
        GradingState.from_dict({**data, "status": "great"})
    with pytest.raises(RecordError):
        GradingState.from_json("[1, 2]")
    with pytest.raises(RecordError):
        Flag("looks odd", "x")


def test_the_seal_covers_every_field_but_itself():
    assert "mac" not in STATE.unsealed() and set(STATE.unsealed()) | {"mac"} == set(STATE.to_dict())


def test_an_unfinished_grading_is_a_flag_with_its_reason():
    stopped = GradingState(submission="s", parts=["rlhf"], status="stopped", reason="took 3 s",
                           hash=None, run="r")
    assert [(f.kind, f.text) for f in stopped.flags()] == [("stopped", "stopped: took 3 s")]
    assert STATE.flags() == []

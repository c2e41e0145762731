"""One submission's grading, in a slot's process: unpack the upload, grade each part of the batch
into ``OUT/<id>/``, record and seal grading.json."""
from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path

from autograder.batch.records import GradingState, Item, RunSpec
from autograder.batch.shared_runs import notebook_runs
from autograder.batch.state import clear, grader_key, now, seal, write_state
from autograder.grading.config import load_config
from autograder.grading.results import failure_results, result_name, write_results
from autograder.grading.sandbox.cleanup import scratch_dir
from autograder.grading.sandbox.confinement import Policy, share_of_machine
from autograder.grading.supervisor import GradeOptions, Layout, grade_part
from autograder.grading.uploads import (
    MAX_UPLOAD_FILES,
    UploadError,
    open_upload,
    shown_name,
    walk,
)


def open_submission(path: Path | None, tmp: Path, modules: list[str]) -> Path:
    """The unpacked upload (``uploads.open_upload``), or UploadError with a reason staff (and
    students) can read; a batch also refuses an export entry with no files at all."""
    if path is None:
        raise UploadError("no files for this submission in the export")
    if path.is_dir() and not path.is_symlink():
        if not any(e is not None and e.is_file(follow_symlinks=False)
                   for _, e in walk(path, MAX_UPLOAD_FILES)):
            raise UploadError("the submission folder is empty")
    return open_upload(path, tmp, modules)


def affinity() -> list[int] | None:
    """The CPUs this process may run on (None where that cannot be read)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def slot_policy(spec: RunSpec) -> Policy:
    """How a slot confines its gradings (sandbox/confinement.py), decided where it runs (a cluster
    node included): its share of the machine's memory and its own CPUs as root."""
    if spec.unconfined:
        return Policy(unconfined=True)
    cpus = affinity()
    return Policy(**share_of_machine(spec.slots, len(cpus) if cpus else None))


def grade_one(layout: Layout, spec: RunSpec, item: Item, pool=None) -> GradingState:
    """Grade one submission for every part of the batch into OUT/<id>/; return its grading.json.
    ``pool``: a RunnerPool whose runner is kept for the next submission."""
    t0 = time.monotonic()
    cfg, cases = load_config(layout.config, layout.tests)
    dest = Path(spec.out) / item.id
    dest.mkdir(parents=True, exist_ok=True)
    clear(dest)
    modules = [m for p in spec.parts for m in cfg.parts[p].modules]
    state = GradingState(submission=item.id, parts=spec.parts, status="graded", reason="",
                         hash=item.hash, run=spec.run, host=socket.gethostname(),
                         gpu=os.environ.get("CUDA_VISIBLE_DEVICES"), cpus=affinity())
    opts = GradeOptions(tier=spec.tier, device=spec.device, policy=slot_policy(spec))
    with scratch_dir("hw12-batch-") as tmp:  # an unpacked upload of any depth
        try:
            upload = open_submission(Path(item.path) if item.path else None, tmp, modules)
        except UploadError as e:
            upload = None
            state = dataclasses.replace(state, status="not graded", reason=shown_name(str(e)))
        if upload is not None:
            state = dataclasses.replace(state, runs=notebook_runs(
                upload, [f for p in spec.parts for f in cfg.parts[p].data_files]))
        for part in spec.parts:
            data, state = _grade_part(layout, cfg, cases, spec, part, upload, opts, pool, state)
            write_results(data, dest / result_name(part, spec.parts))
    state = dataclasses.replace(state, seconds=round(time.monotonic() - t0, 3), finished_at=now())
    state = dataclasses.replace(state, mac=seal(grader_key(Path(spec.out)), state, dest))
    write_state(dest, state)
    return state


def _grade_part(layout, cfg, cases, spec: RunSpec, part: str, upload: Path | None, opts, pool,
                state: GradingState) -> tuple[dict, GradingState]:
    """One part's results.json, and the state with what the grading adds (its confinement, or
    the grader's failure)."""
    if upload is None:
        return failure_results(f"Not graded: {state.reason}."), state
    questions = spec.questions
    selected = [c for c in cases[part] if questions is None or c.question in questions]
    try:
        data = grade_part(layout, cfg, part, selected, upload, opts, pool=pool)
    except Exception as e:  # noqa: BLE001 - one submission never stops the batch
        state = dataclasses.replace(state, status="grader error", hash=None, reason=shown_name(
            f"the autograder failed ({type(e).__name__}: {e})"))
        return failure_results("The autograder failed while grading this submission; "
                               "please tell the course staff."), state
    confinement = data.get("extra_data", {}).get("confinement")
    if confinement:
        state = dataclasses.replace(state, confinement=confinement)
    return data, state

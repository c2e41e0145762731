"""``OUT/<id>/grading.json`` (a ``GradingState``), sealed with the output folder's own key so that a
rerun reuses a grading only if the grader wrote both it and the results files beside it."""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import socket
from pathlib import Path

from autograder.batch.hashing import hash_file
from autograder.batch.records import GradingState, Item, RecordError, RunSpec
from autograder.grading.results import failure_results, result_name, write_results
from autograder.grading.uploads import shown_name

STATE_FILE = "grading.json"  # in OUT/<submission id>/, beside its results*.json
KEY_FILE = ".grader-key"  # in the output folder: the grader's own, never in a student's view


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def grader_key(out: Path) -> bytes:
    """The output folder's secret (created once, 0600): what seals each grading.json."""
    path = Path(out) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    except FileExistsError:
        pass
    with open(path, "rb") as f:
        return f.read()


def seal(key: bytes, state: GradingState, dest: Path) -> str:
    """HMAC-SHA256 of a grading.json (without its seal) and the bytes of the results files beside
    it."""
    h = hmac.new(key, json.dumps(state.unsealed(), sort_keys=True).encode(), hashlib.sha256)
    for part in state.parts:
        name = result_name(part, state.parts)
        h.update(f"\n{name}\n".encode())
        hash_file(h, dest / name)
    return h.hexdigest()


def sealed(out: Path, state: GradingState | None) -> bool:
    """Whether ``state`` (a submission's grading.json) carries a valid seal of this output folder."""
    if state is None or not isinstance(state.mac, str):
        return False
    return hmac.compare_digest(state.mac, seal(grader_key(out), state, Path(out) / state.submission))


def write_state(dest: Path, state: GradingState) -> None:
    tmp = dest / (STATE_FILE + ".tmp")
    tmp.write_text(state.to_json(indent=2) + "\n")
    os.replace(tmp, dest / STATE_FILE)


def read_state(out: Path, sub_id: str) -> GradingState | None:
    """A submission's grading.json, or None if there is none or it is not a GradingState (of
    another version, or damaged)."""
    try:
        return GradingState.from_json((Path(out) / sub_id / STATE_FILE).read_text())
    except (OSError, RecordError, TypeError):
        return None


def clear(dest: Path) -> None:
    """Remove a previous grading's files, state first, so a half-finished one is never reused."""
    (dest / STATE_FILE).unlink(missing_ok=True)
    for old in dest.glob("results*.json"):
        old.unlink()


def write_unfinished(spec: RunSpec, item: Item, reason: str, seconds: float) -> GradingState:
    """From outside the grading process: zero for every part, and no hash (a rerun tries again)."""
    dest = Path(spec.out) / item.id
    dest.mkdir(parents=True, exist_ok=True)
    clear(dest)
    for part in spec.parts:
        write_results(failure_results(f"Not graded: {reason}."), dest / result_name(part, spec.parts))
    state = GradingState(submission=item.id, parts=spec.parts, status="stopped",
                         reason=shown_name(reason),
                         hash=None, run=spec.run, host=socket.gethostname(), gpu=item.gpu,
                         seconds=round(seconds, 3), finished_at=now())
    write_state(dest, state)
    return state

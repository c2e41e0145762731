"""Uploads that carry one notebook run: a part's notebook output file (its ``data_files``: the
early-exit answers, the RLHF log) that is the same run in several submissions. Each grading
records the identity of every such file it finds (GradingState.runs); the batch then flags every
submission whose run another submission shares."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from autograder.batch.records import Flag, GradingState, Submission
from autograder.grading.uploads import MAX_FILE_BYTES, find_file

# What the notebook's last cell adds to its output file for the grader: left out when two uploads'
# notebook runs are compared, so that a copied file with a replay of other code still matches.
RUN_EXCLUDED = ("replay", "code", "module_sha256")


def notebook_run_identity(upload: Path, data_file: str) -> str | None:
    """sha256 of the notebook output ``data_file`` of an unpacked upload, without what its last
    cell adds for the grader (RUN_EXCLUDED); None when the file is missing, too big or not JSON.
    Each run's file holds its own timings (wall_time_s, train_seconds), so two uploads with the same
    identity carry one notebook run."""
    path = find_file(upload, data_file)
    try:
        if path is None or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    kept = {k: v for k, v in data.items() if k not in RUN_EXCLUDED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def notebook_runs(upload: Path, data_files: list[str]) -> dict[str, str]:
    """{data file: identity} for each of ``data_files`` the upload holds as JSON."""
    runs = {f: notebook_run_identity(upload, f) for f in data_files}
    return {f: identity for f, identity in runs.items() if identity is not None}


def flag_shared_runs(subs: list[Submission], states: dict[str, GradingState | None]) -> None:
    """Flag every submission whose notebook output file is the same run as another's: "the same
    notebook run as <ids> (<file>)". ``states``: each submission's grading.json."""
    runs: dict[tuple[str, str], list[Submission]] = {}
    for sub in subs:
        state = states.get(sub.id)
        for data_file, identity in (state.runs if state is not None else {}).items():
            runs.setdefault((data_file, identity), []).append(sub)
    for (data_file, _), same in runs.items():
        for sub in same if len(same) > 1 else ():
            others = ", ".join(o.id for o in same if o is not sub)
            sub.flags.append(Flag("same notebook run",
                                  f"the same notebook run as {others} ({data_file})"))

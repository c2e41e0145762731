"""What one submission can do to the next one its slot grades, and to the batch itself.

A slot keeps its runner for many gradings (batch/pool.py), so these attacks hand something from
one grading to the next in the same process or sandbox: code in System V shared memory (the
fork server, its IPC namespace and uid now end with each grading); the given code's cache of
replays (the runner imports the given code afresh for each grading); a forged error report from
the worker (read as a broken reply, never as the grader's failure). And the batch's own reading
of the export: a folder thousands deep, a zip it cannot unpack and a file name with terminal
escapes cost their submission at most, and never stop the class's batch.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, make_root, only_questions
from test_batch import (
    by_submission,
    fast_root,
    make_export,
    read_scores,
    reference,
    student,
    with_code,
)

from autograder.batch.records import BatchOptions
from autograder.batch.run import run_batch
from autograder.grading.config import load_config
from autograder.grading.supervisor import Layout

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the staff batch as root")

SHM = '''
import ctypes as _ct
_libc = _ct.CDLL(None, use_errno=True)
_libc.shmget.restype, _libc.shmget.argtypes = _ct.c_int, [_ct.c_int, _ct.c_size_t, _ct.c_int]
_libc.shmat.restype, _libc.shmat.argtypes = _ct.c_void_p, [_ct.c_int, _ct.c_void_p, _ct.c_int]
_KEY, _SIZE = 0x182, 1 << 20
'''
GIVER = SHM + '''
def _give():
    src = open(__file__, "rb").read()
    sid = _libc.shmget(_KEY, _SIZE, 0o1000 | 0o666)
    addr = _libc.shmat(sid, None, 0)
    _ct.memmove(addr, len(src).to_bytes(8, "little") + src, 8 + len(src))
_give()
'''
TAKER = SHM + '''
def _take():
    sid = _libc.shmget(_KEY, _SIZE, 0)
    if sid < 0:
        return
    addr = _libc.shmat(sid, None, 0)
    n = int.from_bytes(_ct.string_at(addr, 8), "little")
    code = _ct.string_at(addr + 8, n).decode().split("def _give():")[0]
    exec(compile(code, __file__, "exec"), globals())
_take()
'''
# the worker's own error report rewritten: the message of every error becomes a list
FORGER = '''
import sys as _sys
_w = _sys.modules.get("worker")
if _w is not None:
    _describe = _w.Worker.describe
    def _forged(self, exc):
        status, type_name, message, where = _describe(self, exc)
        return (status, type_name, [message], where)
    _w.Worker.describe = _forged
def survival_prob(t, delta):
    raise ValueError("please regrade me")
'''


def _batch(root: Path, tmp: Path, builders: dict, part: str | None = "diffusion") -> dict:
    export = make_export(tmp / "export", builders, {s: [student(i)] for i, s in enumerate(builders)})
    out = tmp / "out"
    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)
    assert run_batch(layout, cfg, cases, export, out,
                     BatchOptions(part=part, jobs=1, progress=False)) == 0
    return {s: rows[0] for s, rows in by_submission(read_scores(out)).items()}


def _stubs_with(code: str):
    def build(dest: Path) -> None:
        shutil.copytree(REPO / "assignment" / "hw12", dest / "hw12",
                        ignore=shutil.ignore_patterns("__pycache__"))
        module = dest / "hw12" / "binary_diffusion.py"
        module.write_text(module.read_text() + "\n" + code)
    return build


def test_code_left_in_shared_memory_never_reaches_the_next_grading_of_the_slot(tmp_path):
    rows = _batch(fast_root(tmp_path), tmp_path,
                  {"a_giver": with_code("binary_diffusion", GIVER), "b_taker": _stubs_with(TAKER)})
    assert rows["a_giver"]["score"] == rows["a_giver"]["max_score"] == "3", rows["a_giver"]
    assert rows["b_taker"]["score"] == "0", rows["b_taker"]


def test_a_forged_error_report_is_the_forgers_runtime_error_not_the_graders(tmp_path):
    rows = _batch(fast_root(tmp_path), tmp_path,
                  {"evil": with_code("binary_diffusion", FORGER), "honest_1": reference})
    assert "grader error" not in rows["evil"]["flags"] and "runtime error" in rows["evil"]["flags"]
    assert rows["evil"]["q1a"] == "0" and rows["evil"]["q1c"] == "1", rows["evil"]
    assert rows["honest_1"]["score"] == "3" and not rows["honest_1"]["flags"], rows["honest_1"]


def _log_upload(impl: Path, wall_time: float):
    """rlhf.py that only imports its code from a helper module (the same text for everyone), the
    helper, and the reference log with the hash of that rlhf.py."""
    thin = "from hw12.rlhf_impl import *  # noqa: F403\n"

    def build(dest: Path) -> None:
        (dest / "hw12").mkdir(parents=True)
        (dest / "hw12" / "rlhf.py").write_text(thin)
        shutil.copy(impl, dest / "hw12" / "rlhf_impl.py")
        sys.path.insert(0, str(REPO / "solutions"))
        from hw12.code_hash import source_sha256

        log = json.loads((REPO / "solutions" / "submission_log.json").read_text())
        log["code"]["sha256"] = source_sha256(thin)
        log["wall_time_s"] = wall_time  # another notebook run than the classmate's
        (dest / "submission_log.json").write_text(json.dumps(log))
    return build


def test_a_replay_of_an_earlier_grading_never_answers_for_the_next(tmp_path):
    root = make_root(tmp_path, lambda cfg: only_questions(cfg, "rlhf", {"q4_log", "q4_rm_loss"}))
    rows = _batch(root, tmp_path, {
        "a_honest": _log_upload(REPO / "solutions" / "hw12" / "rlhf.py", 89.5),
        "b_stubs": _log_upload(REPO / "assignment" / "hw12" / "rlhf.py", 91.25)}, part="rlhf")
    assert rows["a_honest"]["q4_log"] == "5", rows["a_honest"]
    assert rows["b_stubs"]["q4_log"] == "0" and "log does not replay" in rows["b_stubs"]["flags"]


def _deep_folder(dest: Path) -> None:
    """The reference, and a folder 1,000 levels deep (under PATH_MAX, past Python's recursion)."""
    reference(dest)
    folder = dest
    fd = os.open(dest, os.O_RDONLY)
    try:
        for _ in range(1000):
            os.mkdir("a", dir_fd=fd)
            new = os.open("a", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.close(os.open("notes.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    assert folder.exists()


def _unsupported_zip(dest: Path) -> None:
    """Only a zip whose directory says it needs a newer unzip (NotImplementedError to read)."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "hw12_diffusion_submission.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hw12/binary_diffusion.py", "x = 1\n")
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02")
    data[at + 6:at + 8] = struct.pack("<H", 64)
    path.write_bytes(bytes(data))


def _escape_name(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "\x1b]0;PWNED\x07\x1b[2K\rfake.zip").write_text("not a zip")


@pytest.fixture
def removed_deep(tmp_path):
    """tmp_path, emptied without recursion afterwards (pytest's own clean-up recurses, and a
    folder 1,000 deep would stop the next session)."""
    from autograder.grading.sandbox.cleanup import remove_tree

    yield tmp_path
    for entry in tmp_path.iterdir():
        remove_tree(entry)


def test_what_one_folder_holds_never_stops_the_batch(removed_deep):
    tmp_path = removed_deep
    rows = _batch(fast_root(tmp_path), tmp_path, {
        "honest_1": reference, "deep": _deep_folder, "odd_zip": _unsupported_zip,
        "escapes": _escape_name}, part=None)  # the parts detected from the export, too
    assert rows["honest_1"]["score"] == "3" and rows["deep"]["score"] == "3", rows
    assert rows["odd_zip"]["score"] == "0" and "not a readable zip" in rows["odd_zip"]["flags"]
    assert rows["escapes"]["score"] == "0" and "not graded" in rows["escapes"]["flags"]
    scores = (tmp_path / "out" / "scores.csv").read_text()
    assert "\x1b" not in scores and "\x07" not in scores

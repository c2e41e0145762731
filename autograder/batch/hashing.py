"""Content hashes: what decides a grade besides the submission (the grader's fingerprint), and a
submission's hash on top of it. A finished grading records its hash in grading.json; a rerun whose
hash is the same reuses it (``--force`` regrades)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from autograder.build.imports import grading_files
from autograder.grading.supervisor import Layout
from autograder.grading.uploads import walk

# Bump when the meaning of the hash or the records it keeps change (2: grading code only;
# 3: grading.json is a typed record with the notebook runs and the tests' problems).
HASH_VERSION = "3"
MAX_HASHED_FILES = 20000


def hash_tree(h, root: Path, label: str) -> None:
    """Feed every regular file under ``root`` (names and bytes; links by target) into ``h``."""
    root = Path(root)
    if root.is_symlink() and not root.exists():
        h.update(f"{label}:dangling:{os.readlink(root)}\n".encode())
        return
    if root.is_file():
        h.update(f"{label}:file\n".encode())
        hash_file(h, root)
        return
    for rel, entry in walk(root, MAX_HASHED_FILES):
        if entry is None:
            h.update(b"...too many files\n")
        elif entry.is_symlink():
            h.update(f"{label}:{rel}:link:{os.readlink(entry.path)}\n".encode())
        elif entry.is_file(follow_symlinks=False):
            h.update(f"{label}:{rel}\n".encode())
            hash_file(h, Path(entry.path))
        else:  # fifo, socket, device: never opened
            h.update(f"{label}:{rel}:special\n".encode())


def hash_file(h, path: Path) -> None:
    """Feed the bytes of ``path`` into ``h`` (its errno if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        h.update(f"unreadable:{e.errno}\n".encode())


def grader_fingerprint(layout: Layout, cases: dict, parts: list[str], tier: str,
                       device: str | None, questions: set[str] | None) -> str:
    """What, besides the submission, decides a grade: the config, the grading code (exactly what
    grading the parts runs: ``imports.grading_files``, so an edit of a staff tool regrades
    nobody), the release, the tests of the questions graded, the options."""
    h = hashlib.sha256(f"v{HASH_VERSION}|{tier}|{device}|{sorted(questions or [])}|{parts}\n".encode())
    hash_file(h, layout.config)
    for path in grading_files(layout.root, parts):
        if "tests" not in path.relative_to(layout.root).parts:  # the tests: per question, below
            h.update(f"code:{path.relative_to(layout.root).as_posix()}\n".encode())
            hash_file(h, path)
    hash_tree(h, layout.release / "hw12", "release")
    for part in parts:
        for path in sorted({str(c.file) for c in cases[part]
                            if questions is None or c.question in questions}):
            rel = os.path.relpath(path, layout.tests)
            h.update(f"test:{Path(rel).as_posix()}\n".encode())
            hash_file(h, Path(path))
    return h.hexdigest()


def submission_hash(path: Path | None, fingerprint: str) -> str:
    """The hash of one submission's files on top of the grader's ``fingerprint``."""
    h = hashlib.sha256(fingerprint.encode())
    if path is None:
        h.update(b"absent")
    else:
        hash_tree(h, path, "submission")
    return h.hexdigest()

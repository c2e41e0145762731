"""Removing what a submission left behind, whatever it left: its processes, and its files with no
recursion and no link followed.

Stdlib only: the fork server (zygote.py) imports this file as a sibling script, the grader as
``autograder.grading.sandbox.cleanup``.

A submission can leave a folder thousands of levels deep (deeper than Python's recursion limit
and than PATH_MAX), symbolic links to the grader's own files, names that are not UTF-8, and
folders without any permission. :func:`remove_tree` walks with one open directory at a time,
relative to its parent's descriptor (``dir_fd``), keeping only the names on the way down, so
neither the depth nor the length of a path matters; it never opens a link (``O_NOFOLLOW``) and
unlinks links themselves; a folder its owner locked (mode 000) is opened up by its owner first.
"""
from __future__ import annotations

import errno
import os
import signal
import stat
import tempfile
import time
from contextlib import contextmanager

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(name: str | bytes, parent_fd: int | None) -> int:
    """Open the folder ``name`` (relative to ``parent_fd``) without following a link, and make
    sure its owner may empty it: a folder locked by its owner (mode 000 or 500) is opened up first
    (its owner, or root, may)."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            raise
        os.chmod(name, 0o700, dir_fd=parent_fd)  # a folder, checked just above: not a link
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    if os.fstat(fd).st_mode & 0o700 != 0o700:
        try:
            os.fchmod(fd, 0o700)
        except OSError:
            pass
    return fd


def _unlink_files(fd: int) -> tuple[int, bytes | None]:
    """Unlink every entry of the open folder ``fd`` that is not a folder (links included); return
    how many, and the name of one sub-folder left (None: the folder is empty now)."""
    removed, sub = 0, None
    with os.scandir(fd) as it:
        for entry in it:
            name = os.fsencode(entry.name)
            if entry.is_dir(follow_symlinks=False):
                sub = sub or name
            else:
                os.unlink(name, dir_fd=fd)
                removed += 1
    return removed, sub


def clear_dir(path: str | os.PathLike, keep_top: bool = True) -> int:
    """Delete everything inside ``path`` (and ``path`` itself unless ``keep_top``); return how many
    entries were removed. Never follows a link, whatever its depth; a missing ``path`` is empty."""
    path = os.fsencode(os.fspath(path))
    try:
        top = _open_dir(path, None)
    except FileNotFoundError:
        return 0
    except NotADirectoryError:
        os.unlink(path)
        return 1
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        os.unlink(path)  # a link where a folder was expected: remove the link only
        return 1
    removed, names, fd = 0, [], top  # names: the folders between top and fd
    try:
        while True:
            count, sub = _unlink_files(fd)
            removed += count
            if sub is not None:
                child = _open_dir(sub, fd)
                os.close(fd)
                fd = child
                names.append(sub)
                continue
            if not names:  # top itself is empty now
                break
            parent = os.open(b"..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
            removed += 1
    finally:
        os.close(fd)
    if not keep_top:
        os.rmdir(path)
        removed += 1
    return removed


def remove_tree(path: str | os.PathLike) -> int:
    """Delete ``path`` and everything under it (a file or link: just it); entries removed."""
    return clear_dir(path, keep_top=False)


@contextmanager
def scratch_dir(prefix: str):
    """A new temporary folder (a ``pathlib.Path``), removed with :func:`remove_tree` afterwards,
    however deep or odd what was put in it (``tempfile.TemporaryDirectory`` recurses)."""
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        remove_tree(path)


# ---- processes ----------------------------------------------------------------------------------
def visible_pids(uid: int | None = None) -> list[int]:
    """Live processes this process can see in /proc (zombies left out): all of them (``uid``
    None), or those whose real or effective user is ``uid``."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if fields.get("State", "").split()[:1] == ["Z"]:  # dead, waiting for its parent
                continue
            real, effective = (int(v) for v in fields["Uid"].split()[:2])
            if uid is None or uid in (real, effective):
                pids.append(int(entry.name))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def kill_processes(uid: int | None, keep: frozenset[int] = frozenset()) -> int:
    """SIGKILL, until none is left, every process of ``uid`` (None: every process visible, for a
    fork server alone in its PID namespace with the student's processes) except ``keep``, this
    process and PID 1; return how many were killed.

    Finds double-forked daemons and processes that left the worker's session, which a process-group
    kill misses. Only meaningful for a user or a PID namespace that runs nothing but student code.
    """
    spared = set(keep) | {os.getpid(), 1}
    killed = 0
    for _ in range(100):
        pids = [p for p in visible_pids(uid) if p not in spared]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    return killed

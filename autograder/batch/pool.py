"""Slots that grade at once: each a process (``python -m autograder.batch serve SPEC``) that keeps
one trusted runner (and its fork server of workers) across its submissions while every submission
gets fresh sandboxed workers and its own scratch folder. A slot can be pinned to a GPU through
``CUDA_VISIBLE_DEVICES`` and to its share of the CPUs; a slot that times out or dies is replaced."""
from __future__ import annotations

import dataclasses
import os
import queue
import select
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.batch.one import affinity, grade_one
from autograder.batch.records import Done, GradingState, Item, RunSpec
from autograder.batch.state import read_state, write_unfinished
from autograder.grading.supervisor import Layout, RunnerPool, hang_up


def kill_tree(pid: int) -> None:
    """Stop a grading process and everything it started (runners and workers, in their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


def slot_cpus(n_slots: int) -> list[set[int] | None]:
    """The CPUs of each of ``n_slots`` slots: this process's CPUs split into contiguous shares when
    there are at least as many CPUs as slots (None: not pinned). A slot's runner and its student
    worker hand the turn to each other for every call; on one CPU each hand-over is immediate,
    while unpinned they wake up on a CPU that another slot keeps busy."""
    cpus = affinity()
    if cpus is None or n_slots < 2 or n_slots > len(cpus):
        return [None] * n_slots
    share = len(cpus) // n_slots
    return [set(cpus[i * share:(i + 1) * share]) for i in range(n_slots)]


class SlotProcess:
    """One slot's grading process. Pinned to the slot's GPU through CUDA_VISIBLE_DEVICES and, when
    given, to its ``cpus`` (which the runner and the student's workers it starts inherit)."""

    def __init__(self, layout: Layout, spec: RunSpec, gpu: str | None, cpus: set[int] | None = None):
        env = dict(os.environ, PYTHONPATH=str(layout.root), PYTHONDONTWRITEBYTECODE="1")
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.batch", "serve", spec.to_json()],
            cwd=str(layout.root), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, start_new_session=True)
        if cpus:  # before it is handed anything, so before it starts a runner
            try:
                os.sched_setaffinity(self.proc.pid, cpus)
            except OSError:
                pass

    def grade(self, item: Item, timeout_s: float) -> tuple[str, str]:
        """("done" | "timeout" | "died", the end of its log written while grading ``item``)."""
        start = self.log.seek(0, os.SEEK_END)
        outcome = "died"
        try:
            self.proc.stdin.write((item.to_json() + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout_s
            while outcome == "died":
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                    outcome = "timeout"
                    break
                line = self.proc.stdout.readline()
                if not line:
                    break
                if Done.from_json(line).id == item.id:
                    outcome = "done"
        except (BrokenPipeError, ValueError, OSError):
            outcome = "died"
        self.log.seek(start)
        return outcome, self.log.read()[-600:].decode(errors="replace")

    def close(self, kill: bool = False) -> None:
        if kill:
            kill_tree(self.proc.pid)
        hang_up(self.proc, kill_tree)
        self.log.close()


def serve(spec: RunSpec) -> None:
    """The body of a ``SlotProcess``: Item lines in on stdin, Done lines out."""
    layout, replies = Layout(spec.root), sys.stdout
    sys.stdout = sys.stderr  # anything printed while grading goes to the slot's log
    with RunnerPool() as pool:
        for line in sys.stdin:
            item = Item.from_json(line)
            grade_one(layout, spec, item, pool)
            replies.write(Done(item.id).to_json() + "\n")
            replies.flush()


class Pool:
    """Grades submissions on ``slots`` (GPU ids or None) at once, each slot a ``SlotProcess`` that is
    kept while it behaves and replaced after a time-out or a crash."""

    def __init__(self, layout: Layout, spec: RunSpec, slots: list[str | None], timeout_s: float,
                 on_done=None):
        self.layout, self.timeout_s, self.on_done = layout, timeout_s, on_done
        self.spec = dataclasses.replace(spec, slots=len(slots))  # each slot: its share of the machine
        self.slots: queue.Queue = queue.Queue()
        for i, gpu in enumerate(slots):
            self.slots.put((i, gpu))
        self.n = len(slots)
        self.cpus = slot_cpus(self.n)
        self.live: dict[int, SlotProcess] = {}
        self.lock = threading.Lock()
        self.stopping = False

    def _process(self, index: int, gpu: str | None) -> SlotProcess:
        with self.lock:
            proc = self.live.get(index)
            if proc is None or proc.proc.poll() is not None:
                proc = self.live[index] = SlotProcess(self.layout, self.spec, gpu, self.cpus[index])
            return proc

    def _drop(self, index: int, proc: SlotProcess) -> None:
        with self.lock:
            if self.live.get(index) is proc:
                del self.live[index]
        proc.close(kill=True)

    def _run(self, item: Item) -> GradingState | None:
        index, gpu = self.slots.get()
        try:
            if self.stopping:
                return None
            item = dataclasses.replace(item, gpu=gpu)
            t0 = time.monotonic()
            proc = self._process(index, gpu)
            outcome, tail = proc.grade(item, self.timeout_s)
            if outcome != "done":
                self._drop(index, proc)
            state = read_state(Path(self.spec.out), item.id)
            finished = outcome == "done" and state is not None and state.run == self.spec.run
            if not finished and self.stopping:  # interrupted: nothing is written, a rerun grades it
                return None
            if outcome == "timeout":
                state = write_unfinished(self.spec, item, f"grading did not finish within "
                                         f"{self.timeout_s:.0f} s and was stopped",
                                         time.monotonic() - t0)
            elif not finished:
                state = write_unfinished(self.spec, item, "the grading process failed "
                                         f"(exit status {proc.proc.returncode}): {tail}",
                                         time.monotonic() - t0)
            if self.on_done:
                try:
                    self.on_done(item, state)
                except Exception:  # noqa: BLE001 - a progress line never stops the batch
                    pass
            return state
        finally:
            self.slots.put((index, gpu))

    def run(self, items: list[Item]) -> list[GradingState | None]:
        try:
            with ThreadPoolExecutor(max_workers=self.n) as ex:
                futures = [ex.submit(self._run, it) for it in items]
                try:
                    return [f.result() for f in futures]
                except BaseException:
                    self.stop()
                    for f in futures:
                        f.cancel()
                    raise
        finally:
            with self.lock:
                procs, self.live = list(self.live.values()), {}
            for proc in procs:
                proc.close()

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            procs = list(self.live.values())
        for proc in procs:
            kill_tree(proc.proc.pid)

"""``grade EXPORT --output OUT``: grade a Gradescope export (or any folder of submissions) into
OUT, reusing every grading whose inputs have not changed, then write the tables and the report.
Locally, ``--jobs`` slots grade at once (pool.py); on a cluster, chunks run as a Slurm array
(cluster.py)."""
from __future__ import annotations

import datetime as _dt
import os
import signal
import sys
import threading
import time
from pathlib import Path

from autograder.batch.cluster import run_submitit
from autograder.batch.export import detect_parts, list_submissions
from autograder.batch.hashing import grader_fingerprint, submission_hash
from autograder.batch.pool import Pool
from autograder.batch.records import BatchOptions, Item, RunSpec
from autograder.batch.report import gather, write_compare, write_csvs, write_report
from autograder.batch.shared_runs import flag_shared_runs
from autograder.batch.state import read_state, sealed
from autograder.grading.results import result_name
from autograder.grading.supervisor import Layout

GRACE_S = 120.0  # on top of the parts' budgets before a grading process is stopped from outside


def gpu_slots(opts: BatchOptions) -> list[str | None]:
    """The slots of a local run: ``jobs_per_gpu`` per GPU, or ``jobs`` without GPUs."""
    if opts.gpus:
        return [g for g in opts.gpus for _ in range(max(1, opts.jobs_per_gpu))]
    return [None] * max(1, opts.jobs)


def run_batch(layout: Layout, cfg, cases, export: Path, out: Path, opts: BatchOptions) -> int:
    """Grade the export into ``out``; write the CSVs and the report; return an exit status."""
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    subs, warnings = list_submissions(export)
    for w in warnings:
        print(f"warning: {w}", flush=True)
    parts = [opts.part] if opts.part else detect_parts(cfg, subs)
    questions = set(opts.questions) if opts.questions else None
    fingerprint = grader_fingerprint(layout, cases, parts, opts.tier, opts.device, questions)
    run_id = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    spec = RunSpec(root=str(layout.root), out=str(out.resolve()), parts=parts, tier=opts.tier,
                   device=opts.device, questions=sorted(questions) if questions else None,
                   run=run_id, unconfined=opts.unconfined)
    items, reused = [], 0
    for sub in subs:
        h = submission_hash(sub.path, fingerprint)
        state = read_state(out, sub.id)
        if (not opts.force and state is not None and state.submission == sub.id
                and state.hash == h and sealed(out, state)
                and all((out / sub.id / result_name(p, parts)).exists() for p in parts)):
            reused += 1
            continue
        items.append(Item(id=sub.id, path=os.path.abspath(sub.path) if sub.path else None, hash=h))
    print(f"{len(subs)} submissions, part{'s' if len(parts) > 1 else ''} {', '.join(parts)}: "
          f"{len(items)} to grade, {reused} unchanged since the last run (--force regrades them)",
          flush=True)
    timeout = opts.submission_timeout_s or (sum(cfg.parts[p].budget_s for p in parts) + GRACE_S)
    if items:
        if opts.executor == "local":
            run_local(layout, spec, items, gpu_slots(opts), timeout, opts.progress)
        else:
            run_submitit(layout, spec, items, opts, timeout)
    states = {sub.id: read_state(out, sub.id) for sub in subs}
    flag_shared_runs(subs, states)
    table = gather(cfg, cases, out, subs, states, parts, questions, opts.tier)
    write_csvs(out, table)
    comparison = None
    if opts.compare is not None:
        comparison = write_compare(out, table, Path(opts.compare))
    write_report(out, table, comparison, warnings)
    graded = sum(1 for s in states.values() if s is not None and s.run == run_id)
    print(f"wrote {out}/scores.csv ({len(table.rows)} rows), {out}/questions.csv, {out}/report.html; "
          f"graded {graded}, reused {reused}, {time.monotonic() - t0:.0f} s", flush=True)
    return 0


def run_local(layout: Layout, spec: RunSpec, items: list[Item], slots: list[str | None],
              timeout: float, progress: bool) -> None:
    """Grade ``items`` on this machine's ``slots``, with a progress bar and a line per submission;
    an interrupt (Ctrl-C, SIGTERM) keeps what is finished."""
    from tqdm import tqdm

    bar = tqdm(total=len(items), unit="submission", desc="grading", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def done(item, state):
        reason = f" ({state.reason[:80]})" if state.reason else ""
        bar.write(f"{item.id:30s} {state.status:12s} {state.seconds:6.1f} s{reason}")
        bar.update(1)

    pool = Pool(layout, spec, slots, timeout, on_done=done)
    previous = {}

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, interrupted)
    try:
        pool.run(items)
    except KeyboardInterrupt:
        pool.stop()
        bar.close()
        print("interrupted: finished submissions are kept; run the same command again to go on",
              file=sys.stderr, flush=True)
        raise SystemExit(130)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    bar.close()

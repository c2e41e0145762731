"""A batch on a cluster: chunks of submissions as a Slurm array through submitit (or submitit's
local executor, the same path run on this machine). Each chunk is a job that grades its items
with a ``Pool`` on its node, with the GPUs Slurm gives it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from autograder.batch.pool import Pool
from autograder.batch.records import BatchOptions, ChunkSpec, Item, RunSpec
from autograder.batch.state import read_state, write_unfinished
from autograder.grading.supervisor import Layout


def slurm_parameters(opts: BatchOptions, per_task: int, minutes: int, n_chunks: int) -> dict:
    """submitit's AutoExecutor parameters for one array task per chunk."""
    params = {"timeout_min": minutes, "slurm_partition": opts.slurm.get("partition"),
              "cpus_per_task": opts.slurm.get("cpus_per_task") or 2 * per_task,
              "slurm_array_parallelism": opts.slurm.get("array_parallelism") or n_chunks,
              "name": "hw12-grade"}
    if opts.slurm.get("gpus_per_task"):
        params["gpus_per_node"] = opts.slurm["gpus_per_task"]
    if opts.slurm.get("mem_gb"):
        params["mem_gb"] = opts.slurm["mem_gb"]
    for key in ("account", "qos"):
        if opts.slurm.get(key):
            params.setdefault("slurm_additional_parameters", {})[key] = opts.slurm[key]
    return {k: v for k, v in params.items() if v is not None}


def run_submitit(layout: Layout, spec: RunSpec, items: list[Item], opts: BatchOptions,
                 timeout: float) -> None:
    """One submitit job per chunk of submissions; each chunk grades with the same pool, on its node."""
    import submitit
    from tqdm import tqdm

    logs = Path(spec.out) / "_submitit"
    chunks = [items[i:i + opts.chunk_size] for i in range(0, len(items), max(1, opts.chunk_size))]
    gpus = opts.slurm.get("gpus_per_task") or 0
    per_task = gpus * max(1, opts.jobs_per_gpu) if gpus else max(1, opts.jobs)  # gradings at once
    minutes = opts.slurm.get("time_min") or int(len(chunks[0]) * timeout / per_task / 60) + 10
    if opts.executor == "slurm":
        ex = submitit.AutoExecutor(folder=logs, cluster="slurm")
        ex.update_parameters(**slurm_parameters(opts, per_task, minutes, len(chunks)))
    else:
        ex = submitit.LocalExecutor(folder=logs)
        ex.update_parameters(timeout_min=minutes)
    functions = []
    for i, chunk in enumerate(chunks):
        chunk_spec = ChunkSpec(spec=spec, items=chunk, jobs_per_task=per_task,
                               jobs_per_gpu=max(1, opts.jobs_per_gpu), timeout_s=timeout)
        path = logs / f"chunk-{i:04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(chunk_spec.to_json())
        functions.append(submitit.helpers.CommandFunction(
            [sys.executable, "-m", "autograder.batch", "chunk", str(path)], verbose=False,
            cwd=str(layout.root)))  # the job's own environment: Slurm sets CUDA_VISIBLE_DEVICES
    with ex.batch():
        jobs = [ex.submit(f) for f in functions]
    print(f"submitted {len(jobs)} {opts.executor} job(s) of up to {opts.chunk_size} submissions: "
          f"{', '.join(j.job_id for j in jobs)}; logs in {logs}", flush=True)
    for job in tqdm(jobs, unit="chunk", desc="chunks", file=sys.stderr, disable=not opts.progress):
        try:
            job.result()
        except Exception as e:  # noqa: BLE001 - a failed chunk leaves rows marked as stopped
            print(f"job {job.job_id} failed: {str(e)[-500:]}", file=sys.stderr, flush=True)
    for item in items:  # whatever a failed or cancelled chunk left undone still gets a row
        state = read_state(Path(spec.out), item.id)
        if state is None or state.run != spec.run:
            write_unfinished(spec, item, "its cluster job ended before grading it", 0.0)


def run_chunk(chunk: ChunkSpec) -> None:
    """Inside a cluster job: grade one chunk with the GPUs this job was given."""
    visible = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    k = chunk.jobs_per_gpu
    slots = [g for g in visible for _ in range(k)] if visible else [None] * chunk.jobs_per_task
    Pool(Layout(chunk.spec.root), chunk.spec, slots, chunk.timeout_s).run(chunk.items)

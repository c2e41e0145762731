"""``python -m autograder build | grade | simulate | validate | record | new-question | gradescope`` (see README.md)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder import ROOT as REPO
from autograder.batch.single import grade_upload, write_and_show
from autograder.grading.config import ConfigError, load_config
from autograder.grading.results import write_results
from autograder.grading.sandbox.cleanup import scratch_dir
from autograder.grading.sandbox.confinement import Policy, Unconfinable, plan, share_of_machine
from autograder.grading.supervisor import GradeOptions, Layout
from autograder.grading.uploads import UploadError, open_upload, parts_in


def _load(layout: Layout):
    try:
        return load_config(layout.config, layout.tests)
    except ConfigError as e:
        sys.exit(f"grading_config.yaml is not valid:\n{e}")


# ---- build ----------------------------------------------------------------------------------------
def cmd_build(args) -> int:
    from autograder.build.pipeline import BuildError, build

    cfg, cases = _load(Layout(REPO))
    try:
        return build(REPO, cfg, cases, zips=not args.no_zips)
    except BuildError as e:
        sys.exit(f"build: {e}")


# ---- grade ------------------------------------------------------------------------------------------
def staff_policy(args, slots: int, trusted: bool = False) -> Policy:
    """How a staff command confines the code it grades: namespaces (and, as root, a uid and a
    cgroup per grading), or nothing if staff pass --unconfined. Stops with what is missing and
    how to get it where the code cannot be confined, unless it is the project's own (``trusted``:
    the reference solutions, the mutant bank), which then runs unconfined with a note."""
    if getattr(args, "unconfined", False):
        print("warning: --unconfined: the graded code runs as you, with no boundary", flush=True)
        return Policy(unconfined=True)
    policy = Policy(**share_of_machine(slots))
    try:
        plan(policy)
    except Unconfinable as e:
        if not trusted:
            sys.exit(f"not grading: {e}")
        print(f"note: running the project's own code unconfined ({e})", flush=True)
        return Policy(unconfined=True)
    return policy


def cmd_grade(args) -> int:
    layout = Layout(REPO)
    cfg, cases = _load(layout)
    target = Path(args.submission) if args.submission else REPO / "solutions"
    batch = args.batch or (target.is_dir() and (target / "submission_metadata.yml").exists())
    slots = 1 if not batch else (len(args.gpus.split(",")) * args.jobs_per_gpu if args.gpus
                                 else args.jobs)
    opts = GradeOptions(tier=args.tier, device=args.device,
                        policy=staff_policy(args, slots, trusted=not args.submission))
    if args.part and args.part not in cfg.parts:
        sys.exit(f"unknown part {args.part!r}; parts: {', '.join(cfg.parts)}")
    with scratch_dir("hw12-upload-") as tmp:
        if batch:
            return _grade_batch(layout, cfg, cases, target, args, opts)
        modules = [m for p in ([args.part] if args.part else cfg.parts) for m in cfg.parts[p].modules]
        try:
            upload = open_upload(target, Path(tmp), modules)
        except (UploadError, OSError, ValueError) as e:
            sys.exit(f"cannot read {target}: {e}")
        parts = [args.part] if args.part else parts_in(upload, cfg)
        results = grade_upload(layout, cfg, cases, upload, parts, opts, not args.quiet)
    write_and_show(cfg, results, Path(args.output), args.verbose)
    return 0


def _grade_batch(layout, cfg, cases, folder: Path, args, opts) -> int:
    """A Gradescope export (or any folder of submissions): see autograder/batch/."""
    from autograder.batch.records import BatchOptions
    from autograder.batch.run import run_batch

    out_dir = Path(args.output).with_suffix("") if args.output != "results.json" else Path("graded")
    slurm = {"partition": args.slurm_partition, "time_min": args.slurm_time,
             "gpus_per_task": args.slurm_gpus_per_task, "cpus_per_task": args.slurm_cpus_per_task,
             "mem_gb": args.slurm_mem_gb, "account": args.slurm_account, "qos": args.slurm_qos,
             "array_parallelism": args.slurm_array_parallelism}
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else None
    batch = BatchOptions(part=args.part, tier=opts.tier, device=opts.device, jobs=args.jobs,
                         force=args.force, gpus=gpus, jobs_per_gpu=args.jobs_per_gpu,
                         executor=args.executor, slurm=slurm, chunk_size=args.chunk_size,
                         compare=Path(args.compare) if args.compare else None,
                         submission_timeout_s=args.submission_timeout, progress=not args.quiet,
                         unconfined=opts.policy.unconfined)
    return run_batch(layout, cfg, cases, folder, out_dir, batch)


# ---- new-question -----------------------------------------------------------------------------------
def cmd_new_question(args) -> int:
    from autograder.build.scaffold import ScaffoldError, new_question

    try:
        written = new_question(REPO, args.part, args.question, args.function, args.points,
                               args.module)
    except ScaffoldError as e:
        sys.exit(f"new-question: {e}")
    for path in written:
        print(f"wrote {path.relative_to(REPO)}")
    print("Fill every TODO(new-question) (docs/AUTHORING.md §6); `python -m autograder build` "
          "names what is left, `python -m autograder validate --question "
          f"{args.question} -v` grades the question alone.")
    return 0


# ---- gradescope entry point ------------------------------------------------------------------------
def cmd_gradescope(args) -> int:
    """``python -m autograder gradescope``: the same as ``python -m autograder.grading.gradescope``."""
    from autograder.grading.gradescope import grade_upload_for_gradescope

    return grade_upload_for_gradescope(args.part, args.sandbox_user, Path(args.submission),
                                       Path(args.results))


# ---- simulate ---------------------------------------------------------------------------------------
def cmd_simulate(args) -> int:
    """Build the part's zip and run it as Gradescope does (see autograder/checks/simulate.py)."""
    from autograder.build.pipeline import part_zip
    from autograder.checks.simulate import SimulationUnavailable, report, simulate

    layout = Layout(REPO)
    cfg, _ = _load(layout)
    if args.part not in cfg.parts:
        sys.exit(f"unknown part {args.part!r}; parts: {', '.join(cfg.parts)}")
    zip_path = Path(args.zip) if args.zip else part_zip(REPO, args.part, cfg)
    submission = Path(args.submission) if args.submission else REPO / "solutions"
    try:
        sim = simulate(args.part, submission, zip_path, memory_mb=args.memory_mb, cpus=args.cpus,
                       python_env=Path(args.python_env) if args.python_env else None,
                       timeout_s=args.timeout, keep=Path(args.keep) if args.keep else None,
                       namespaces=args.namespaces)
    except SimulationUnavailable as e:
        sys.exit(f"cannot simulate Gradescope here: {e}")
    print(report(sim))
    if args.output and sim.results is not None:
        write_results(sim.results, Path(args.output))
    return 0 if sim.results is not None else 1


# ---- validate ---------------------------------------------------------------------------------------
def cmd_validate(args) -> int:
    from autograder.checks.validate import validate

    policy = staff_policy(args, max(1, args.jobs), trusted=True)
    return validate(REPO, parts=args.part, jobs=args.jobs, verbose=not args.quiet, policy=policy,
                    questions=args.question, variants=args.variant, details=args.verbose)


# ---- record -----------------------------------------------------------------------------------------
def cmd_record(args) -> int:
    from autograder.build.record import record

    return record(REPO, parts=args.part, timeout=args.timeout, replay_only=args.replay_only)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="regenerate assignment/, the answer key and dist/gradescope/*.zip")
    b.add_argument("--no-zips", action="store_true", help="only the release and the key")
    g = sub.add_parser("grade", help="grade a submission exactly as Gradescope would")
    g.add_argument("submission", nargs="?", help="folder or zip (default: the reference solutions)")
    g.add_argument("--part", help="grade only this part")
    g.add_argument("--tier", choices=["cpu", "gpu", "all"], default="cpu")
    g.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="cpu runs GPU-tier tests in their reduced CPU version")
    g.add_argument("--output", default="results.json")
    g.add_argument("--batch", action="store_true", help="SUBMISSION is a folder of submissions")
    g.add_argument("--unconfined", action="store_true",
                   help="run the graded code as yourself, with no boundary (only for code you "
                   "trust; by default it is confined, and grading stops where it cannot be)")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="whole failure messages (default: the first line of each)")
    m = g.add_argument_group("many submissions (a Gradescope export; see README.md)")
    m.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="submissions graded at once, each in its own sandbox (default: the cores)")
    m.add_argument("--force", action="store_true",
                   help="regrade every submission, even those whose inputs have not changed")
    m.add_argument("--compare", metavar="OLD_OUTPUT",
                   help="an earlier batch's output folder: per question, who gains or loses points")
    m.add_argument("--gpus", help="GPU ids to spread gradings over, e.g. 0,1,2,3 (CUDA_VISIBLE_DEVICES)")
    m.add_argument("--jobs-per-gpu", type=int, default=1, help="gradings at once on each GPU")
    m.add_argument("--submission-timeout", type=float, default=None, metavar="S",
                   help="stop one submission's grading after S seconds (default: its parts' budgets + 120)")
    m.add_argument("--executor", choices=["local", "slurm", "submitit-local"], default="local",
                   help="local: this machine; slurm: a Slurm array through submitit; submitit-local: "
                   "the Slurm path run on this machine (a dry run)")
    m.add_argument("--chunk-size", type=int, default=25, help="submissions per cluster task")
    m.add_argument("--slurm-partition")
    m.add_argument("--slurm-time", type=int, metavar="MINUTES", help="time limit of each task")
    m.add_argument("--slurm-gpus-per-task", type=int, default=0)
    m.add_argument("--slurm-cpus-per-task", type=int)
    m.add_argument("--slurm-mem-gb", type=int)
    m.add_argument("--slurm-account")
    m.add_argument("--slurm-qos")
    m.add_argument("--slurm-array-parallelism", type=int, help="tasks running at once")
    v = sub.add_parser("validate", help="reference full, stubs zero, mutants lose, alternatives keep")
    v.add_argument("--part", action="append", help="only these parts (repeatable)")
    v.add_argument("--question", action="append",
                   help="only this question: the reference, the stubs and its variants (repeatable)")
    v.add_argument("--variant", action="append", metavar="NAME",
                   help="only the bank files whose name ends with NAME, e.g. q4_rm_loss/rm_swapped "
                   "(repeatable)")
    v.add_argument("-v", "--verbose", action="store_true",
                   help="per variant: points lost on each question, the cases that caught it, "
                   "whether its hint fired")
    v.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    v.add_argument("--quiet", action="store_true")
    v.add_argument("--unconfined", action="store_true",
                   help="run the project's code unconfined even where it could be confined")
    r = sub.add_parser("record", help="re-run the reference notebooks whose output the reference "
                       "submission and the answer key carry (after editing early_exit.py or rlhf.py)")
    r.add_argument("--part", action="append", choices=["diffusion", "early_exit", "rlhf"],
                   help="only these parts (repeatable; default: all)")
    r.add_argument("--timeout", type=int, default=7200, help="per-cell timeout in seconds")
    r.add_argument("--replay-only", action="store_true",
                   help="rewrite only the module hash and the replay of the recorded files (what "
                   "the notebook's last cell adds; for an edit that cannot change the training)")
    m = sub.add_parser("simulate", help="run a part's zip as Gradescope does (root, sandbox user, "
                       "cgroup memory limit and CPU quota)")
    m.add_argument("submission", nargs="?", help="folder or zip (default: the reference solutions)")
    m.add_argument("--part", required=True)
    m.add_argument("--memory-mb", type=int, default=768, help="cgroup memory limit (0: none)")
    m.add_argument("--cpus", type=float, default=0.5, help="cgroup CPU quota in cores (0: none)")
    m.add_argument("--python-env", help="grading virtual environment (default: .venv-cpu)")
    m.add_argument("--zip", help="run this zip instead of building the part's zip")
    m.add_argument("--timeout", type=float, default=600.0, help="Gradescope's kill, in seconds")
    m.add_argument("--keep", help="copy the /autograder folder here afterwards")
    m.add_argument("--output", help="also write the results.json here")
    m.add_argument("--namespaces", choices=["auto", "off"], default="auto",
                   help="off: a container that refuses namespaces, so the grader falls back to the "
                   "sandbox user behind a seccomp filter (default: namespaces where they work)")
    n = sub.add_parser("new-question", help="write every file a new graded question needs, as "
                       "placeholders marked TODO(new-question) that build names until filled")
    n.add_argument("part")
    n.add_argument("question", help="e.g. q4_entropy")
    n.add_argument("--function", required=True, help="the function students write, e.g. entropy_bonus")
    n.add_argument("--points", type=int, default=2, help="1 public point, the rest hidden")
    n.add_argument("--module", default=None, help="the API module (default: the part's only one)")
    s = sub.add_parser("gradescope", help="the zip's entry point run from a checkout (the zip "
                       "itself runs python -m autograder.grading.gradescope)")
    s.add_argument("--part", required=True)
    s.add_argument("--sandbox-user", default=None)
    s.add_argument("--submission", default="/autograder/submission")
    s.add_argument("--results", default="/autograder/results/results.json")
    args = ap.parse_args(argv)
    return {"build": cmd_build, "grade": cmd_grade, "validate": cmd_validate,
            "simulate": cmd_simulate, "record": cmd_record, "new-question": cmd_new_question,
            "gradescope": cmd_gradescope}[args.cmd](args)

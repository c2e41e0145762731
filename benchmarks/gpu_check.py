"""``make gpu-check``: the GPU tier of both parts on a machine with one GPU, confined as on a staff box.

    python benchmarks/gpu_check.py [--device cuda|cpu]

Grades, for the early-exit and RLHF parts, each inside the confinement the grader applies here
(sandbox/confinement.py; the kind is printed):

- the reference: full marks on the GPU tier (``q3b_gpu``, ``q4_gpu``);
- the untouched stubs: zero there;
- two mutants of CPU-tier questions (``q3b_loss/loss_weights_ignored``, ``q4_rm_loss/rm_swapped``):
  they lose points on their own question (CPU tier) and keep full marks on the GPU tier, so a bug
  is charged on its own question only.

Prints the GPU tier's wall time per submission (the first one of each part includes starting the
grader and training the reference network), then one line per check;
exits 1 if any check fails. Without CUDA it stops with a message, unless ``--device cpu`` runs the
GPU tier's reduced CPU versions (what this machine can check of the script itself).
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.checks.mutants import load_variant  # noqa: E402
from autograder.checks.validate import make_upload  # noqa: E402
from autograder.grading.config import load_config  # noqa: E402
from autograder.grading.results import question_scores  # noqa: E402
from autograder.grading.sandbox.confinement import Policy, Unconfinable, plan, share_of_machine  # noqa: E402
from autograder.grading.supervisor import GradeOptions, Layout, RunnerPool, grade_part  # noqa: E402

GPU_QUESTION = {"early_exit": "q3b_gpu", "rlhf": "q4_gpu"}
MUTANTS = {"early_exit": "q3b_loss/loss_weights_ignored.py", "rlhf": "q4_rm_loss/rm_swapped.py"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = ap.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu-check needs CUDA, and torch sees no GPU here (--device cpu runs the reduced "
                 "CPU versions instead)")
    policy = Policy(**share_of_machine(1))
    try:
        conf = plan(policy)
    except Unconfinable as e:
        sys.exit(f"gpu-check runs the GPU tier confined, and here it cannot be: {e}")
    layout = Layout(REPO)
    cfg, cases = load_config(layout.config, layout.tests)
    gpu_opts = GradeOptions(tier="gpu", device=args.device, policy=policy)
    cpu_opts = GradeOptions(tier="cpu", device="cpu", policy=policy)
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (reduced versions)"
    print(f"device: {name}; confinement: {conf.kind} (network {conf.network})", flush=True)
    problems: list[str] = []
    with RunnerPool() as pool, tempfile.TemporaryDirectory(prefix="hw12-gpu-check-") as tmp:
        for part, question in GPU_QUESTION.items():
            variant = load_variant(REPO / "tests" / "mutants" / part / MUTANTS[part])
            uploads = {"reference": make_upload(REPO, None, Path(tmp) / f"{part}-ref"),
                       "stubs": layout.release,
                       f"mutant {variant.name}": make_upload(REPO, variant,
                                                             Path(tmp) / f"{part}-mut")}
            for label, upload in uploads.items():
                t0 = time.monotonic()
                gpu = question_scores(grade_part(layout, cfg, part, cases[part], upload, gpu_opts,
                                                 pool=pool))
                seconds = time.monotonic() - t0
                got, top = gpu.get(question, (0.0, 0.0))
                print(f"{part:10s} {label:36s} {question} {got:g}/{top:g}  GPU tier "
                      f"{seconds:6.1f} s wall", flush=True)
                if label == "reference" and not (top > 0 and math.isclose(got, top)):
                    problems.append(f"{part} reference: {got:g}/{top:g} on {question}")
                elif label == "stubs" and got > 0:
                    problems.append(f"{part} stubs: {got:g} points on {question}")
                elif label.startswith("mutant"):
                    if not math.isclose(got, top):
                        problems.append(f"{part} {label}: charged on {question} ({got:g}/{top:g})")
                    own = question_scores(grade_part(layout, cfg, part, cases[part], upload,
                                                     cpu_opts, pool=pool)).get(variant.question)
                    if own is None or math.isclose(*own):
                        problems.append(f"{part} {label}: kept full marks on {variant.question}")
    for p in problems:
        print(f"FAIL {p}")
    print(f"gpu-check: {'all checks passed' if not problems else f'{len(problems)} failed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m autograder validate``: the grader accepts what is right and rejects what is wrong.

1. The reference solutions score full marks (every tier; GPU-tier tests in their CPU version).
2. The untouched release (assignment/) scores zero on every question.
3. Every mutant in tests/mutants/<part>/<question>/ loses points on its question (and on each
   question of its ``ALSO_LOSES``); every alternative (a different but correct implementation)
   keeps full marks on every CPU-tier question that calls the module it changes. The bank's format
   and its one parser: autograder/mutants.py.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from .config import load_config
from .mutants import Variant, default_bank, load_bank
from .results import question_scores
from .supervisor import GradeOptions, Layout, RunnerPool, grade_part

# What the notebooks record about the module that ran them (hash and fingerprint), per log file.
RECORD_SCRIPT = """
import hashlib, importlib, json, sys
sys.path.insert(0, sys.argv[1])
from hw12 import fingerprint  # given code
module = importlib.import_module("hw12." + sys.argv[2])
path = sys.argv[1] + "/" + sys.argv[3]
log = json.load(open(path))
with open(module.__file__, encoding="utf-8") as f:  # universal newlines, as the notebooks hash
    digest = hashlib.sha256(f.read().encode("utf-8")).hexdigest()
if sys.argv[2] == "rlhf":
    log["code"].update(sha256=digest, fingerprint=fingerprint.rlhf_fingerprint(module))
else:
    log.update(module_sha256=digest, fingerprint=fingerprint.early_exit_fingerprint(module))
json.dump(log, open(path, "w"), allow_nan=False)
"""
LOG_OF_MODULE = {"rlhf": "submission_log.json", "early_exit": "early_exit_answers.json"}


def make_upload(repo: Path, variant: Variant | None, dest: Path) -> Path:
    """The reference solutions with ``variant``'s code appended to its module. For an alternative
    the module's log records its hash and fingerprint, as the notebook run with it would."""
    shutil.copytree(repo / "solutions", dest, ignore=shutil.ignore_patterns(
        "__pycache__", "derivations", "written", "*.ipynb"))
    if variant is not None:
        target = dest / "hw12" / f"{variant.module}.py"
        target.write_text(variant.applied_to(target.read_text()))
        if variant.kind == "alternative" and variant.module in LOG_OF_MODULE:
            subprocess.run([sys.executable, "-c", RECORD_SCRIPT, str(dest), variant.module,
                            LOG_OF_MODULE[variant.module]], check=True, capture_output=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    return dest


def validate(repo: Path, parts=None, jobs: int = 2, verbose: bool = True,
             bank: Path | None = None) -> int:
    """Run the checks above for ``parts`` (all by default) with the mutant bank folder ``bank``
    (the project's tests/mutants by default); print one line per check; 1 if any failed."""
    layout = Layout(repo)
    cfg, cases = load_config(layout.config, layout.tests)
    parts = parts or list(cfg.parts)
    opts = GradeOptions(tier="all", device="cpu")
    problems: list[str] = []
    lines: list[str] = []

    def grade(upload: Path, part: str, questions=None, stop=None) -> dict[str, tuple[float, float]]:
        selected = [c for c in cases[part] if questions is None or c.question in questions]
        run_opts = replace(opts, stop_when_failed=frozenset(stop) if stop else None)
        return question_scores(grade_part(layout, cfg, part, selected, upload, run_opts,
                                          pool=pool))

    def check_reference(part):
        with tempfile.TemporaryDirectory() as tmp:
            s = grade(make_upload(repo, None, Path(tmp) / "ref"), part)
        bad = [q for q, (a, b) in s.items() if not math.isclose(a, b)]
        return f"reference {part}", (f"not full marks on {bad}: {s}" if bad else None)

    def check_stubs(part):
        s = grade(layout.release, part)
        bad = [q for q, (a, _) in s.items() if a > 0]
        return f"stubs {part}", (f"points on {bad}: {s}" if bad else None)

    def check_variant(v: Variant):
        if v.kind == "mutant":
            questions = set(v.loses)
        else:  # every CPU-tier question whose tests call the patched module (the GPU tier's
            # logic is validated on the reference and the stubs, in its reduced CPU version)
            questions = {c.question for c in cases[v.part]
                         if v.module in c.params and c.tier == "cpu"}
        stop = questions if v.kind == "mutant" else None
        with tempfile.TemporaryDirectory() as tmp:
            s = grade(make_upload(repo, v, Path(tmp) / "sub"), v.part, questions, stop)
        if v.kind == "mutant":
            kept = [q for q in v.loses if q not in s or math.isclose(*s[q])]
            return f"mutant {v.name}", (f"kept full marks on {kept}" if kept else None)
        lost = [q for q, (a, b) in s.items() if not math.isclose(a, b)]
        return f"alternative {v.name}", (f"lost points on {lost}: {s}" if lost else None)

    tasks = [(check_reference, p) for p in parts] + [(check_stubs, p) for p in parts]
    questions = {p: {c.question for c in cases[p]} for p in parts}
    tasks += [(check_variant, v) for v in load_bank(bank or default_bank(repo), parts, questions)]
    with RunnerPool() as pool, ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
        for label, problem in threads.map(lambda t: t[0](t[1]), tasks):
            lines.append(f"{'FAIL' if problem else 'ok  '} {label}" + (f": {problem}" if problem else ""))
            if verbose or problem:  # --quiet still names what failed
                print(lines[-1], flush=True)
            if problem:
                problems.append(f"{label}: {problem}")
    print(f"validate: {len(tasks) - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0

"""``python -m autograder validate``: the grader accepts what is right and rejects what is wrong.

1. The reference solutions score full marks (every tier; GPU-tier tests in their CPU version).
2. The untouched release (assignment/) scores zero on every question.
3. Each question is graded on its own. Every mutant in tests/mutants/<part>/<question>/ loses
   points on its question and on no other: one that also loses points elsewhere is reported as
   charged twice (a test of that other question must give the student's function a correct callee:
   ``autograder.testlib.with_correct``). Every alternative (a different but correct implementation)
   keeps full marks. Both are graded on every question that calls the module they change, the GPU
   tier's included (in its reduced CPU version: the GPU tier grades only what the device adds, so
   a mutant must not lose points there either).
   The bank's format and its one parser: autograder/mutants.py.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .config import load_config
from .mutants import Variant, default_bank, load_bank
from .results import question_scores
from .sandbox.confinement import Policy
from .supervisor import GradeOptions, Layout, RunnerPool, grade_part

# What the notebooks record about the module that ran them (hash and replay), per log file.
RECORD_SCRIPT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
from hw12 import replay  # given code
module = importlib.import_module("hw12." + sys.argv[2])
path = sys.argv[1] + "/" + sys.argv[3]
log = json.load(open(path))
with open(module.__file__, encoding="utf-8") as f:
    digest = replay.source_sha256(f.read())
log.pop("fingerprint", None)  # what earlier notebooks recorded instead of a replay
if sys.argv[2] == "rlhf":
    log["code"].pop("fingerprint", None)
    log["code"].update(sha256=digest)
    log["replay"] = replay.rlhf_replay(module, log["config"]["seed"])
else:
    log.update(module_sha256=digest, replay=replay.early_exit_replay(module, log["config"]["seed"]))
json.dump(log, open(path, "w"), allow_nan=False)
"""
LOG_OF_MODULE = {"rlhf": "submission_log.json", "early_exit": "early_exit_answers.json"}
LOG_QUESTION = {"rlhf": "q4_log", "early_exit": "q3b_answers"}  # the question that grades the log


def make_upload(repo: Path, variant: Variant | None, dest: Path) -> Path:
    """The reference solutions with ``variant``'s code appended to its module. The module's log
    records its hash and replay, as the notebook run with it would; where the variant cannot replay
    its training the notebook run would have stopped, so the upload has no log (the log question is
    then lost as well: ``notebook_stops``)."""
    shutil.copytree(repo / "solutions", dest, ignore=shutil.ignore_patterns(
        "__pycache__", "derivations", "written", "*.ipynb"))
    if variant is not None:
        target = dest / "hw12" / f"{variant.module}.py"
        target.write_text(variant.applied_to(target.read_text()))
        if variant.module in LOG_OF_MODULE:
            run = subprocess.run([sys.executable, "-c", RECORD_SCRIPT, str(dest), variant.module,
                                  LOG_OF_MODULE[variant.module]], check=variant.kind == "alternative",
                                 capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if run.returncode != 0:
                (dest / LOG_OF_MODULE[variant.module]).unlink()
    return dest


def notebook_stops(variant: Variant, upload: Path) -> set[str]:
    """{the log question} when ``variant``'s notebook run stops (its upload has no log), else {}:
    a bug that stops the training costs the log question too, as in the notebook itself."""
    log = LOG_OF_MODULE.get(variant.module)
    return {LOG_QUESTION[variant.module]} if log and not (upload / log).exists() else set()


CHARGED_TWICE = "charged twice"  # a mutant that loses points on another question too


def mutant_problem(question: str, scores: dict[str, tuple[float, float]],
                   also: set[str] = frozenset()) -> str | None:
    """What is wrong with a mutant of ``question`` that scored ``scores`` ({question: (score, max)}):
    it must lose points on ``question`` and on no other but ``also`` (the log question when the
    notebook cannot run with it). None if nothing is."""
    problems = [] if not math.isclose(*scores.get(question, (1, 1))) else [
        f"kept full marks on its question {question}"]
    others = [f"{q} ({b - a:g} of {b:g} points)" for q, (a, b) in sorted(scores.items())
              if q != question and q not in also and not math.isclose(a, b)]
    if others:
        problems.append(f"{CHARGED_TWICE}: also loses {', '.join(others)}")
    return "; ".join(problems) or None


def validate(repo: Path, parts=None, jobs: int = 2, verbose: bool = True,
             bank: Path | None = None, policy: Policy | None = None) -> int:
    """Run the checks above for ``parts`` (all by default) with the mutant bank folder ``bank``
    (the project's tests/mutants by default); print one line per check; 1 if any failed."""
    layout = Layout(repo)
    cfg, cases = load_config(layout.config, layout.tests)
    parts = parts or list(cfg.parts)
    opts = GradeOptions(tier="all", device="cpu", policy=policy or Policy())
    problems: list[str] = []
    lines: list[str] = []

    def grade(upload: Path, part: str, questions=None) -> dict[str, tuple[float, float]]:
        selected = [c for c in cases[part] if questions is None or c.question in questions]
        return question_scores(grade_part(layout, cfg, part, selected, upload, opts, pool=pool))

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
        questions = {c.question for c in cases[v.part] if v.module in c.params}
        with tempfile.TemporaryDirectory() as tmp:
            upload = make_upload(repo, v, Path(tmp) / "sub")
            s = grade(upload, v.part, questions)
            stops = notebook_stops(v, upload)
        if v.kind == "alternative":
            lost = [q for q, (a, b) in s.items() if not math.isclose(a, b)]
            return f"alternative {v.name}", (f"lost points on {lost}: {s}" if lost else None)
        note = f" (the notebook stops with it: {', '.join(sorted(stops))} is lost too)" if stops else ""
        return f"mutant {v.name}{note}", mutant_problem(v.question, s, stops)

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
    twice = [p.split(":")[0] for p in problems if CHARGED_TWICE in p]
    if twice:
        print(f"{CHARGED_TWICE} ({len(twice)}; each question must be graded on its own): "
              + ", ".join(twice))
    print(f"validate: {len(tasks) - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0

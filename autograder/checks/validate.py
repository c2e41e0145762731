"""``python -m autograder validate``: the grader accepts what is right and rejects what is wrong.

1. The reference solutions score full marks (every tier; GPU-tier tests in their CPU version).
2. The untouched release (assignment/) scores zero on every question.
3. Each question is graded on its own. Every mutant in tests/mutants/<part>/<question>/ loses
   points on its question and on no other: one that also loses points elsewhere is reported as
   charged twice (a test of that other question must give the student's function a correct callee:
   ``autograder.grading.testlib.with_correct``). Every alternative (a different but correct implementation)
   keeps full marks. Both are graded on every question that calls the module they change, the GPU
   tier's included (in its reduced CPU version: the GPU tier grades only what the device adds, so
   a mutant must not lose points there either).
   The bank's format and its one parser: autograder/checks/mutants.py.
4. Each mutant's hint fires: its HINT is in the first failing message of its question (what a
   student reads first), so a reworded message or a wrong hint fails here.

``--question Q`` and ``--variant NAME`` grade only what is asked; ``-v`` prints, per variant, the
points it lost on each question, the cases that caught it and whether its hint fired.
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

from autograder.checks.mutants import Variant, default_bank, load_bank
from autograder.grading.config import load_config
from autograder.grading.results import question_scores
from autograder.grading.sandbox.confinement import Policy
from autograder.grading.supervisor import GradeOptions, Layout, RunnerPool, grade_part

# What the notebooks record about the module that ran them (hash and replay), per log file.
RECORD_SCRIPT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
from hw12 import code_hash, replay  # given code
module = importlib.import_module("hw12." + sys.argv[2])
path = sys.argv[1] + "/" + sys.argv[3]
log = json.load(open(path))
with open(module.__file__, encoding="utf-8") as f:
    digest = code_hash.source_sha256(f.read())
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


def failing_cases(results: dict, question: str) -> list[dict]:
    """The failed tests of ``question`` in a results.json dictionary, in the grader's order (its
    public cases first)."""
    return [t for t in results["tests"] if "max_score" in t and t["tags"][0] == question
            and t["score"] < t["max_score"]]


def hint_problem(variant: Variant, results: dict) -> str | None:
    """Why ``variant``'s HINT does not fire: it must be in the first failing message of its own
    question (the message a student reads first). None when it fires or the mutant has none."""
    if not variant.hint:
        return None
    failed = failing_cases(results, variant.question)
    first = failed[0]["output"] if failed else ""
    if variant.hint in first:
        return None
    return (f"its hint {variant.hint!r} is not in the first failing message of {variant.question}: "
            f"{first.splitlines()[0] if first else '(none fails)'!r}")


def mutant_details(variant: Variant, results: dict) -> list[str]:
    """For ``validate -v``: the points a variant lost on each question, the cases of its question
    that caught it, and whether its hint fired."""
    lost = [f"{q} {b - a:g} of {b:g}" for q, (a, b) in question_scores(results).items()
            if not math.isclose(a, b)]
    caught = [t["name"].split(": ", 1)[-1] for t in failing_cases(results, variant.question)]
    lines = [f"       loses: {', '.join(lost) or 'nothing'}",
             f"       caught by: {', '.join(caught) or 'no case'}"]
    if variant.kind == "mutant" and variant.hint:
        fired = hint_problem(variant, results) is None
        lines.append(f"       hint {variant.hint!r}: {'fired' if fired else 'did not fire'}")
    return lines


def validate(repo: Path, parts=None, jobs: int = 2, verbose: bool = True,
             bank: Path | None = None, policy: Policy | None = None,
             questions: list[str] | None = None, variants: list[str] | None = None,
             details: bool = False) -> int:
    """Run the checks above for ``parts`` (all by default) with the mutant bank folder ``bank``
    (the project's tests/mutants by default); print one line per check; 1 if any failed.
    ``questions`` grades only those questions' reference and stubs, and their variants (each still
    on every question that calls its module, so that one charged twice is seen);
    ``variants`` only the bank files whose name (part/question/file) ends with one of them (the
    reference and the stubs are then left out); ``details`` prints, per variant, what it lost,
    the cases that caught it and whether its hint fired."""
    layout = Layout(repo)
    cfg, cases = load_config(layout.config, layout.tests)
    if questions:
        unknown = sorted(set(questions) - {c.question for p in cases.values() for c in p})
        if unknown:
            print(f"validate: unknown question(s) {', '.join(unknown)}")
            return 2
        parts = [p for p in cfg.parts if any(c.question in questions for c in cases[p])]
    parts = parts or list(cfg.parts)
    opts = GradeOptions(tier="all", device="cpu", policy=policy or Policy(),
                        keep_fork_server=True)  # the project's own code: one fork server
    problems: list[str] = []
    lines: list[str] = []

    def grade(upload: Path, part: str, only=None) -> dict:
        """Grade ``only`` (default: the asked questions, or all)."""
        only = only if only is not None else (set(questions) if questions else None)
        selected = [c for c in cases[part] if only is None or c.question in only]
        return grade_part(layout, cfg, part, selected, upload, opts, pool=pool)

    def scope(part) -> str:
        """What a reference or stubs line covers: the part, or the questions asked of it."""
        asked = sorted(q for q in questions or () if any(c.question == q for c in cases[part]))
        return f"{part} ({', '.join(asked)} only)" if asked else part

    def check_reference(part):
        with tempfile.TemporaryDirectory() as tmp:
            s = question_scores(grade(make_upload(repo, None, Path(tmp) / "ref"), part))
        bad = [q for q, (a, b) in s.items() if not math.isclose(a, b)]
        return f"reference {scope(part)}", (f"not full marks on {bad}: {s}" if bad else None), []

    def check_stubs(part):
        s = question_scores(grade(layout.release, part))
        bad = [q for q, (a, _) in s.items() if a > 0]
        return f"stubs {scope(part)}", (f"points on {bad}: {s}" if bad else None), []

    def check_variant(v: Variant):
        calls = {c.question for c in cases[v.part] if v.module in c.params}
        with tempfile.TemporaryDirectory() as tmp:
            upload = make_upload(repo, v, Path(tmp) / "sub")
            results = grade(upload, v.part, calls)
            stops = notebook_stops(v, upload)
        s = question_scores(results)
        more = mutant_details(v, results) if details else []
        if v.kind == "alternative":
            lost = [q for q, (a, b) in s.items() if not math.isclose(a, b)]
            return f"alternative {v.name}", (f"lost points on {lost}: {s}" if lost else None), more
        note = f" (the notebook stops with it: {', '.join(sorted(stops))} is lost too)" if stops else ""
        found = [p for p in (mutant_problem(v.question, s, stops), hint_problem(v, results)) if p]
        return f"mutant {v.name}{note}", "; ".join(found) or None, more

    tasks = [] if variants else [(check_reference, p) for p in parts] + [(check_stubs, p) for p in parts]
    known = {p: {c.question for c in cases[p]} for p in parts}
    bank_variants = [v for v in load_bank(bank or default_bank(repo), parts, known)
                     if (not questions or v.question in questions)
                     and (not variants or any(v.name.endswith(n) for n in variants))]
    if variants and not bank_variants:
        print(f"validate: no variant of the bank matches {', '.join(variants)}")
        return 2
    tasks += [(check_variant, v) for v in bank_variants]
    with RunnerPool() as pool, ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
        for label, problem, more in threads.map(lambda t: t[0](t[1]), tasks):
            lines.append(f"{'FAIL' if problem else 'ok  '} {label}" + (f": {problem}" if problem else ""))
            if verbose or problem:  # --quiet still names what failed
                print("\n".join([lines[-1], *more]), flush=True)
            if problem:
                problems.append(f"{label}: {problem}")
    twice = [p.split(":")[0] for p in problems if CHARGED_TWICE in p]
    if twice:
        print(f"{CHARGED_TWICE} ({len(twice)}; each question must be graded on its own): "
              + ", ".join(twice))
    print(f"validate: {len(tasks) - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0

"""In-process grading for the project's own tests: run a part's otter test cases against a module
built from source text, without the sandbox (like ``autograder.checks.localrun``, but for variants).

The sandboxed path is covered by validate and test_zip; these helpers make per-mutant checks cheap.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import signal
import sys
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOL = ROOT / "solutions"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# the given code (hw12.replay and the like) is importable, as in the grader's runner; from
# solutions/, the package the project's tests import everywhere (the given files are the same)
if str(SOL) not in sys.path:
    sys.path.append(str(SOL))

from autograder.grading.sandbox.client import StudentTimeout  # noqa: E402 - after the path set-up


@functools.lru_cache(maxsize=None)
def _scheduled(part: str, question: str) -> tuple:
    """((case seed, test_case, time limit in s), ...) of one question in the grader's order, public
    file first."""
    from autograder.grading.config import load_config
    from autograder.grading.testfiles import load_test_cases

    _, scheduled = load_config(ROOT / "grading_config.yaml", ROOT / "autograder" / "tests")
    loaded: dict = {}
    out = []
    for case in scheduled[part]:
        if case.question == question:
            if case.file not in loaded:
                loaded[case.file] = {tc.test_func.__name__: tc for tc in load_test_cases(case.file)}
            out.append((case.seed, loaded[case.file][case.function], case.time_limit_s))
    return tuple(out)


def _cases_of(part: str, question: str) -> list:
    """The grader's Case records of one question (their points as the config splits them)."""
    from autograder.grading.config import load_config

    _, scheduled = load_config(ROOT / "grading_config.yaml", ROOT / "autograder" / "tests")
    return [c for c in scheduled[part] if c.question == question]


def cases(part: str, question: str) -> list:
    """The otter test_case objects of one question, public file first."""
    return [tc for _, tc, _ in _scheduled(part, question)]


def module_from_source(source: str, module: str) -> types.ModuleType:
    """A module named hw12_<module>_under_test executed from ``source`` (its __file__ points at
    solutions/hw12/<module>.py, so relative data paths resolve as for the reference)."""
    name = f"hw12_{module}_under_test"
    mod = types.ModuleType(name)
    mod.__file__ = str(SOL / "hw12" / f"{module}.py")
    sys.modules[name] = mod  # dataclasses look their module up here
    exec(compile(source, mod.__file__, "exec"), mod.__dict__)
    return mod


def reference_source(module: str) -> str:
    return (SOL / "hw12" / f"{module}.py").read_text()


def variant_source(path: Path):
    """(variant, source) of a mutant-bank file: the parsed file (autograder.checks.mutants) and its code
    appended to the reference module it patches."""
    from autograder.checks.mutants import load_variant

    variant = load_variant(path)
    return variant, variant.applied_to(reference_source(variant.module))


def as_run_with(module: str, source: str, log: dict) -> dict:
    """A copy of the notebook's ``log`` of ``module`` ("early_exit" or "rlhf") as if the notebook had
    been run with ``source``: its sha256 and the replay its functions give (hw12/replay.py), as
    ``validate`` records them. None where those functions cannot replay the training: the
    notebook would have stopped before writing the file."""
    import copy

    from hw12 import code_hash, replay

    log = copy.deepcopy(log)
    record = log["code"] if module == "rlhf" else log
    record["sha256" if module == "rlhf" else "module_sha256"] = code_hash.source_sha256(source)
    run = replay.rlhf_replay if module == "rlhf" else replay.early_exit_replay
    try:
        log["replay"] = run(module_from_source(source, module), log["config"]["seed"])
    except Exception:  # noqa: BLE001 - the notebook would have stopped: no file
        return None
    return log


def Submission(files: dict):  # noqa: N802 - used like the class it returns
    """The ``submission`` parameter, the grader's own class, over the data files {relative path:
    text} written to a temporary folder (removed with the object)."""
    from autograder.grading.testfiles import SubmissionFiles

    folder = tempfile.TemporaryDirectory(prefix="hw12-files-")
    for rel, text in files.items():
        (Path(folder.name) / rel).parent.mkdir(parents=True, exist_ok=True)
        (Path(folder.name) / rel).write_text(text)
    submission = SubmissionFiles(Path(folder.name))
    submission.folder = folder
    return submission


def outcomes(part: str, module_name: str, module, submission, question: str,
             time_scale: float = 0.0):
    """(case, the exception it raised or None) of each case of ``question`` in the grader's order,
    each seeded as the grader seeds it; lazily, so that a caller may stop at the first failure.
    With ``time_scale`` > 0 a case is stopped after ``time_scale`` times the grader's time limit
    (main thread only), with the sandbox's own exception for a time-out."""
    from autograder.grading.testfiles import seed_everything, substituted

    for seed, case, limit in _scheduled(part, question):
        seed_everything(seed)
        params = inspect.signature(case.test_func).parameters
        env = {module_name: module, "submission": submission, "device": "cpu",
               "substituted": substituted}
        try:
            with _time_limit(limit * time_scale, case.test_func.__name__):
                case.test_func(**{p: env[p] for p in params})
        except (Exception, StudentTimeout) as e:  # noqa: BLE001 - a failing case is data here
            yield case, e
        else:
            yield case, None


@contextlib.contextmanager
def _time_limit(seconds: float, label: str):
    """Raise the sandbox's StudentTimeout in this (main) thread after ``seconds`` (0: no limit)."""
    def stop(signum, frame):
        raise StudentTimeout(f"{label} did not finish within the time limit")

    if not seconds:
        yield
        return
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def grade(part: str, module_name: str, module, submission, questions, messages=None) -> dict:
    """{question: [names of failing cases]} for ``questions`` (each case seeded as the grader seeds
    it, and stopped after three times the grader's time limit: a backstop for a hanging mutant);
    when a dict is passed as ``messages`` it receives {case name: the failure's message}."""
    failed: dict = {}
    for q in questions:
        for case, e in outcomes(part, module_name, module, submission, q, time_scale=3.0):
            if e is not None:
                failed.setdefault(q, []).append(case.test_func.__name__)
                if messages is not None:
                    messages[case.test_func.__name__] = f"{type(e).__name__}: {e}"
    return failed


def question_scores(part: str, failed: dict, questions) -> dict:
    """{question: (points kept, points)} of ``questions`` given ``failed``, what ``grade`` returns."""
    out = {}
    for q in questions:
        points = [(c.function, c.points) for c in _cases_of(part, q)]  # the config's share
        lost = sum(p for name, p in points if name in failed.get(q, ()))
        out[q] = (sum(p for _, p in points) - lost, sum(p for _, p in points))
    return out


def variant_problem(part: str, path: Path, submission_for) -> str | None:
    """What is wrong with the mutant-bank file ``path`` graded in-process on every question of
    ``part`` that calls its module (the GPU tier in its reduced CPU version), as ``validate``
    judges it (a mutant loses points on its question and on no other, an alternative on none);
    None if nothing is.
    ``submission_for(source)`` gives the uploaded files for the module's source text."""
    from autograder.checks.validate import LOG_OF_MODULE, LOG_QUESTION, mutant_problem
    from autograder.grading.config import load_config

    variant, source = variant_source(path)
    _, scheduled = load_config(ROOT / "grading_config.yaml", ROOT / "autograder" / "tests")
    questions = sorted({c.question for c in scheduled[part]
                        if variant.module in c.params})
    submission = submission_for(source)
    failed = grade(part, variant.module, module_from_source(source, variant.module), submission,
                   questions)
    if variant.kind == "mutant":
        log = LOG_OF_MODULE.get(variant.module)
        stops = {LOG_QUESTION[variant.module]} if log and not submission.exists(log) else set()
        return mutant_problem(variant.question, question_scores(part, failed, questions), stops)
    return f"loses points on {sorted(failed)}: {failed}" if failed else None


def stub_source(text: str, module: str) -> str:
    """The student stub of a reference module: the release's own transformation."""
    from autograder.build.release import strip_code

    return strip_code(text, f"hw12/{module}.py")

"""Gradescope ``results.json``: built from case results, checked against the schema, written atomically."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from autograder.grading.config import Case, GradingConfig

SCHEMA = Path(__file__).with_name("schemas") / "gradescope_results.schema.json"
MAX_OUTPUT = 8000
SUMMARY_TAG = "summary"  # the unscored entry that carries the full per-question table


def result_name(part: str, parts: list[str]) -> str:
    """The results file of ``part`` when a batch grades ``parts``."""
    return "results.json" if len(parts) == 1 else f"results-{part}.json"


@dataclass
class CaseResult:
    case: Case
    status: str  # passed | failed | skipped
    message: str
    seconds: float
    problem: str = ""  # a failed case's kind of failure (sandbox/protocol.PROBLEMS), "" otherwise

    @property
    def score(self) -> float:
        return self.case.points if self.status == "passed" else 0.0


def _clean(text: str) -> str:
    """Printable text that strict JSON parsers accept: no control characters, no lone surrogates
    (replaced by U+FFFD), at most MAX_OUTPUT characters."""
    text = str(text).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n... (cut)"


def build_results(cfg: GradingConfig, part_name: str, results: list[CaseResult],
                  seconds: float, notes: list[str] = (), confinement: dict | None = None) -> dict:
    """The results.json dictionary for one part; ``confinement``: what confined the student's code
    (kept in ``extra_data``, which Gradescope shows to staff only)."""
    part = cfg.parts[part_name]
    hidden_vis = cfg.gradescope.hidden_visibility
    tests = []
    for i, r in enumerate(results, 1):
        q = part.questions[r.case.question]
        skipped = r.status == "skipped"
        label = "hidden" if r.case.visibility == "hidden" else "public"
        tests.append({
            "name": f"{r.case.question} {q.title}: {r.case.function.removeprefix('test_')} ({label})",
            "number": f"{r.case.question}.{i}",
            "score": 0.0 if skipped else r.score,
            "max_score": 0.0 if skipped else r.case.points,
            "status": "passed" if r.status == "passed" else "failed",
            "output": _clean(r.message if r.status != "passed" else (r.message or "passed")),
            "tags": [r.case.question, r.case.tier],
            "visibility": "visible" if r.case.visibility == "public" else hidden_vis,
            "extra_data": {"seconds": round(r.seconds, 3), "skipped": skipped,
                           **({"problem": r.problem} if r.problem and r.status == "failed" else {})},
        })
    score = sum(t["score"] for t in tests)
    public = [r for r in results if r.case.visibility == "public"]
    hidden_n = len(results) - len(public)
    shown = summary_table(cfg, part_name, public) if public else "(no public checks in this part)"
    if hidden_n:  # before grades are published a student sees the public cases only
        shown = (f"Public checks:\n{shown}\n\n{hidden_n} hidden tests are graded too; their "
                 "results and your total appear when grades are published.")
        tests.append({
            "name": "Summary: every test (public and hidden), per question",
            "output": _clean(summary_table(cfg, part_name, results)),
            "tags": [SUMMARY_TAG], "visibility": hidden_vis,
        })
    output = "\n".join([*notes, shown]) if notes else shown
    data = {
        "score": round(score, 6),
        "execution_time": round(seconds, 3),
        "output": _clean(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"part": part_name, "tier_questions": sorted({r.case.question for r in results}),
                       "confinement": confinement or {}},
    }
    validate(data)
    return data


def question_scores(data: dict) -> dict[str, tuple[float, float]]:
    """(score, max score) per question of a results.json dictionary, in the order of its tests."""
    per: dict[str, list[float]] = {}
    for t in data["tests"]:
        if "max_score" not in t:  # the summary entry
            continue
        acc = per.setdefault(t["tags"][0], [0.0, 0.0])
        acc[0] += t["score"]
        acc[1] += t["max_score"]
    return {q: (a, b) for q, (a, b) in per.items()}


def staff_view(data: dict) -> str:
    """The full per-question table (public and hidden) that staff see at once, students later."""
    summary = [t["output"] for t in data["tests"] if t.get("tags") == [SUMMARY_TAG]]
    return summary[0] if summary else data["output"]


def per_question(cfg: GradingConfig, part_name: str, results: list[CaseResult]):
    """Rows (question, title, score, max, status) in config order, for the table and the CSV."""
    part = cfg.parts[part_name]
    rows = []
    for qname, q in part.questions.items():
        mine = [r for r in results if r.case.question == qname]
        if not mine:
            continue
        if all(r.status == "skipped" for r in mine):
            rows.append((qname, q.title, 0.0, 0.0, "skipped"))
            continue
        got = sum(r.score for r in mine)
        total = sum(r.case.points for r in mine if r.status != "skipped")
        status = "ok" if math.isclose(got, total) else ("partial" if got > 0 else "zero")
        rows.append((qname, q.title, got, total, status))
    return rows


def summary_table(cfg: GradingConfig, part_name: str, results: list[CaseResult]) -> str:
    rows = per_question(cfg, part_name, results)
    width = max([len(r[1]) for r in rows] + [5])
    qw = max([len(r[0]) for r in rows] + [8])
    lines = [f"{'question':{qw}s} {'title':{width}s} {'score':>13s}  status"]
    for q, title, got, total, status in rows:
        lines.append(f"{q:{qw}s} {title:{width}s} {got:6.2f}/{total:<6.2f}  {status}")
    got = sum(r[2] for r in rows)
    total = sum(r[3] for r in rows)
    lines.append(f"{'total':{qw}s} {'':{width}s} {got:6.2f}/{total:<6.2f}")
    return "\n".join(lines)


def validate(data: dict) -> None:
    """Raise jsonschema.ValidationError if ``data`` is not a valid Gradescope results.json."""
    import jsonschema

    jsonschema.validate(data, json.loads(SCHEMA.read_text()))


RESERVE_BYTES = 4 * 1024 * 1024  # disk space kept for the final results.json


def write_results(data: dict, path: Path) -> None:
    """Write strict JSON (RFC 8259: no NaN, ASCII-escaped) atomically, so that a reader never sees
    half a file; space reserved by :func:`reserve_results` is released first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=True) + "\n"
    reserve = _reserve_path(path)
    if reserve.exists():
        reserve.unlink()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _reserve_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".reserve")


def reserve_results(path: Path, provisional: dict) -> None:
    """Before any student code runs: write ``provisional`` results and set disk space aside, so
    the final results.json can be written even if the student's code fills the disk."""
    write_results(provisional, path)
    with open(_reserve_path(path), "wb") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, RESERVE_BYTES)
        except OSError:  # a filesystem without fallocate: write the bytes
            f.write(b"\0" * RESERVE_BYTES)
        f.flush()
        os.fsync(f.fileno())


def failure_results(message: str, seconds: float = 0.0) -> dict:
    """Last-resort results when grading itself failed: zero, and a message for the student."""
    return {"score": 0.0, "execution_time": round(seconds, 3), "visibility": "visible",
            "stdout_visibility": "hidden", "output": _clean(message), "tests": []}

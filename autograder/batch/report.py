"""The batch's outputs for staff: scores.csv, questions.csv, compare.csv and report.html.

Everything here reads the per-submission folders that a batch wrote (results*.json and
grading.json), so the tables and the report can be rebuilt from a finished output folder. The flags
are structured values decided where each problem was found (records.Flag), never read back from
the words of a message.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.records import Flag, GradingState, Submission
from autograder.grading.results import result_name
from autograder.grading.sandbox.protocol import PROBLEMS
from autograder.grading.supervisor import in_tier

IDENTITY = ["submission", "part", "name", "sid", "email", "submitted_at"]
EPS = 1e-9
SLOWEST = 25  # rows of the grading-time table
TOP_MESSAGES = 8  # failure messages shown per question


@dataclass
class Table:
    parts: list[str]
    questions: dict[str, list[str]]  # part -> question ids, in config order
    titles: dict[str, str]
    points: dict[str, float]
    subs: list[dict] = field(default_factory=list)  # one per (submission, part)
    rows: list[dict] = field(default_factory=list)  # scores.csv: one per (student, part)

    @property
    def all_questions(self) -> list[str]:
        return [q for p in self.parts for q in self.questions[p]]


def _selected_questions(cfg, cases, part: str, questions, tier: str) -> list[str]:
    have = {c.question for c in in_tier(cases[part], tier)
            if questions is None or c.question in questions}
    return [q for q in cfg.parts[part].questions if q in have]


def _short(message: str) -> str:
    """One line that groups the same mistake across students (no per-student hashes)."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    line = lines[0] if lines else "(no message)"
    line = re.sub(r"\b[0-9a-f]{8,}\b(\.\.\.)?", "…", line)
    return line if len(line) <= 220 else line[:217] + "..."


def problem_flags(data: dict) -> list[Flag]:
    """A flag for each kind of problem (protocol.PROBLEMS) among the failed tests of a results.json,
    as the grading decided it (a test's ``extra_data["problem"]``), in the order PROBLEMS lists them."""
    found = {(t.get("extra_data") or {}).get("problem") for t in data.get("tests", [])
             if t.get("status") == "failed"}
    return [Flag(kind, kind) for kind in PROBLEMS if kind in found]


def gather(cfg, cases, out: Path, subs: list[Submission], states: dict[str, GradingState | None],
           parts: list[str], questions, tier: str) -> Table:
    """Read every submission's results into one table (a row per student and part); ``states``:
    each submission's grading.json (None where there is none)."""

    table = Table(parts=parts, questions={p: _selected_questions(cfg, cases, p, questions, tier)
                                          for p in parts},
                  titles={q: qq.title for p in parts for q, qq in cfg.parts[p].questions.items()},
                  points={q: float(qq.points) for p in parts
                          for q, qq in cfg.parts[p].questions.items()})
    for sub in subs:
        folder = out / sub.id
        state = states.get(sub.id) or GradingState(
            submission=sub.id, parts=parts, status="stopped", hash=None, run="",
            reason="not graded yet (the run was interrupted)")
        for part in parts:
            try:
                data = json.loads((folder / result_name(part, parts)).read_text())
            except (OSError, ValueError):
                data = {"score": 0.0, "tests": [], "output": ""}
            per_q = {q: [0.0, 0.0] for q in table.questions[part]}
            failures: dict[str, list[str]] = defaultdict(list)
            for t in data.get("tests", []):
                if "max_score" not in t:  # the unscored summary entry (results.SUMMARY_TAG)
                    continue
                q = (t.get("tags") or ["?"])[0]
                acc = per_q.setdefault(q, [0.0, 0.0])
                acc[0] += float(t.get("score") or 0.0)
                acc[1] += float(t.get("max_score") or 0.0)
                if t.get("status") == "failed" and not t.get("extra_data", {}).get("skipped"):
                    label = "hidden" if t.get("name", "").endswith("(hidden)") else "public"
                    failures[q].append(f"[{label}] {_short(t.get('output', ''))}")
            for q, acc in per_q.items():
                if acc[1] == 0 and not data.get("tests"):
                    acc[1] = table.points.get(q, 0.0)  # not graded: out of the question's points
            flags = [*state.flags(), *problem_flags(data), *sub.flags]
            entry = {"id": sub.id, "part": part, "students": sub.students or [None],
                     "submitted_at": sub.submitted_at, "state": state, "q": per_q,
                     "score": float(data.get("score") or 0.0),
                     "max": sum(v[1] for v in per_q.values()), "flags": [f.text for f in flags],
                     "flag_kinds": [f.kind for f in flags],
                     "failures": dict(failures), "seconds": state.seconds}
            table.subs.append(entry)
            for st in entry["students"]:
                row = {"submission": sub.id, "part": part, "name": st.name if st else "",
                       "sid": st.sid if st else "", "email": st.email if st else "",
                       "submitted_at": sub.submitted_at}
                for q in table.all_questions:
                    row[q] = _num(per_q[q][0]) if q in per_q else ""
                row.update(score=_num(entry["score"]), max_score=_num(entry["max"]),
                           flags="; ".join(entry["flags"]), grading_s=f"{entry['seconds']:.1f}")
                table.rows.append(row)
    return table


def _num(x: float) -> str:
    return f"{x:g}"


def write_csvs(out: Path, table: Table) -> None:
    fields = IDENTITY + table.all_questions + ["score", "max_score", "flags", "grading_s"]
    _write_csv(out / "scores.csv", fields, table.rows)
    rows = []
    for e in table.subs:
        for st in e["students"]:
            for q in table.questions[e["part"]]:
                got, top = e["q"].get(q, [0.0, 0.0])
                rows.append({"submission": e["id"], "part": e["part"], "name": st.name if st else "",
                             "sid": st.sid if st else "", "email": st.email if st else "",
                             "question": q, "score": _num(got), "max_score": _num(top),
                             "failures": " | ".join(dict.fromkeys(e["failures"].get(q, [])))})
    _write_csv(out / "questions.csv", ["submission", "part", "name", "sid", "email", "question",
                                       "score", "max_score", "failures"], rows)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    """``value`` as a cell a spreadsheet shows as text: a string that would start a formula
    (``=``, ``+``, ``-``, ``@``, tab, carriage return: OWASP's "CSV injection") gets a leading
    apostrophe, unless it is a plain number such as ``-0.5``."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows({k: spreadsheet_text(v) for k, v in row.items()} for row in rows)
    tmp.replace(path)


# ---- before / after ------------------------------------------------------------------------------
def _student_key(row: dict) -> tuple:
    who = row.get("sid") or row.get("email") or f"{row.get('submission')}/{row.get('name', '')}"
    return row.get("part", ""), who


def compare(table: Table, old_rows: list[dict]) -> dict:
    """Per question (and the total): how many students gain or lose points, and by how much."""
    old = {_student_key(r): r for r in old_rows}
    new = {_student_key(r): r for r in table.rows}
    common = [k for k in new if k in old]
    stats, changes = [], []
    for q in table.all_questions + ["score"]:
        gains, losses = [], []
        for k in common:
            a, b = _float(old[k].get(q)), _float(new[k].get(q))
            if a is None or b is None:
                continue
            d = b - a
            if d > EPS:
                gains.append(d)
            elif d < -EPS:
                losses.append(-d)
            if abs(d) > EPS:
                changes.append({"part": k[0], "student": k[1], "submission": new[k]["submission"],
                                "name": new[k].get("name", ""), "question": q,
                                "old": _num(a), "new": _num(b), "change": f"{d:+g}"})
        compared = sum(1 for k in common if _float(old[k].get(q)) is not None)
        stats.append({"question": q if q != "score" else "total", "students": compared,
                      "gain": len(gains), "lose": len(losses),
                      "same": compared - len(gains) - len(losses),
                      "mean_gain": _num(statistics.fmean(gains)) if gains else "",
                      "max_gain": _num(max(gains)) if gains else "",
                      "mean_loss": _num(statistics.fmean(losses)) if losses else "",
                      "max_loss": _num(max(losses)) if losses else ""})
    return {"stats": stats, "changes": changes, "only_new": len([k for k in new if k not in old]),
            "only_old": len([k for k in old if k not in new])}


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def write_compare(out: Path, table: Table, old_output: Path) -> dict:
    old_csv = old_output / "scores.csv" if old_output.is_dir() else old_output
    with open(old_csv, newline="") as f:
        result = compare(table, list(csv.DictReader(f)))
    result["old"] = str(old_output)
    fields = ["question", "students", "gain", "lose", "same", "mean_gain", "max_gain", "mean_loss",
              "max_loss"]
    _write_csv(out / "compare.csv", fields, result["stats"])
    _write_csv(out / "compare_students.csv",
               ["part", "student", "submission", "name", "question", "old", "new", "change"],
               result["changes"])
    print(f"\ncompared with {old_csv}:")
    print(f"{'question':16s} {'students':>8s} {'gain':>5s} {'lose':>5s} {'same':>5s}  mean gain / loss")
    for s in result["stats"]:
        print(f"{s['question']:16s} {s['students']:8d} {s['gain']:5d} {s['lose']:5d} {s['same']:5d}  "
              f"{s['mean_gain'] or '-'} / {s['mean_loss'] or '-'}")
    if result["only_new"] or result["only_old"]:
        print(f"({result['only_new']} students only in this run, "
              f"{result['only_old']} only in the old one)")
    return result


# ---- report.html ------------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _histogram(values: list[float], top: float, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    top = top if top > 0 else max(values + [1.0])
    bins = min(20, max(4, int(math.ceil(top * 2)) if top <= 10 else 20))
    ax.hist(values, bins=bins, range=(0, top), color="#4c72b0", edgecolor="white")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("points")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _times_chart(entries: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    secs = [e["seconds"] for e in entries]
    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    ax.hist(secs, bins=min(30, max(5, len(secs) // 3)), color="#55a868", edgecolor="white")
    ax.set_xlabel("seconds to grade one submission")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("grading time per submission", fontsize=9)
    return _png(fig)


def _students(e: dict) -> str:
    names = [f"{s.name} ({s.sid})" if s.sid else s.name for s in e["students"] if s]
    return ", ".join(n for n in names if n) or "—"


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    """An HTML table; every cell is escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f"<td{' class=n' if i in numeric else ''}>{html.escape(str(c))}</td>" for i, c in enumerate(r))
        + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(src: str, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="{src}"></figure>'


def _part_section(table: Table, part: str) -> str:
    esc = html.escape
    entries = [e for e in table.subs if e["part"] == part]
    totals = [e["score"] for e in entries for _ in e["students"]]
    top = max([e["max"] for e in entries] + [0.0])
    summary, plots = [], []
    for q in table.questions[part]:
        vals = [e["q"].get(q, [0.0, 0.0])[0] for e in entries for _ in e["students"]]
        qmax = table.points.get(q, 0.0)
        title = table.titles.get(q, q)
        summary.append([q, title, _num(qmax), f"{statistics.fmean(vals) if vals else 0:.2f}",
                        sum(1 for v in vals if qmax > 0 and v >= qmax - EPS),
                        sum(1 for v in vals if v <= EPS)])
        plots.append(_figure(_histogram(vals, qmax, f"{q}: {title}"), f"histogram of {q}"))
    sec = [f"<h2>Part {esc(part)}</h2>",
           _table(["question", "title", "points", "mean", "full marks", "zero"], summary, {2, 3, 4, 5}),
           _figure(_histogram(totals, top, f"{part}: total"), "histogram of totals"),
           '<div class="grid">' + "".join(plots) + "</div>",
           "<h3>What the class got wrong (most frequent failure messages)</h3>"]
    for q in table.questions[part]:
        counts: Counter = Counter()
        for e in entries:
            for msg in set(e["failures"].get(q, [])):
                counts[msg] += len(e["students"])
        if counts:
            sec.append(f"<h4>{esc(q)} {esc(table.titles.get(q, ''))}</h4>")
            sec.append(_table(["students", "message"],
                              [[c, m] for m, c in counts.most_common(TOP_MESSAGES)], {0}))
    return "\n".join(sec)


def write_report(out: Path, table: Table, comparison: dict | None, warnings: list[str]) -> Path:
    esc = html.escape
    flagged = [e for e in table.subs if e["flags"]]
    kinds = Counter(k for e in flagged for k in set(e["flag_kinds"]))
    by_kind = ", ".join(f"{esc(k)}: {n}" for k, n in kinds.most_common())
    slow = sorted(table.subs, key=lambda e: -e["seconds"])[:SLOWEST]
    secs = [e["seconds"] for e in table.subs]
    compare_html = ""
    if comparison:
        keys = ["question", "students", "gain", "lose", "same", "mean_gain", "max_gain",
                "mean_loss", "max_loss"]
        compare_html = (
            f"<h2>Compared with {esc(comparison['old'])}</h2>"
            + _table([k.replace("_", " ") for k in keys],
                     [[s[k] for k in keys] for s in comparison["stats"]], set(range(1, len(keys))))
            + f"<p>{comparison['only_new']} students only in this run, {comparison['only_old']} only in "
            "the earlier one; every change is listed in compare_students.csv.</p>")
    n_subs = len({e["id"] for e in table.subs})
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>HW12 grading report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 75em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }}
td.n {{ text-align: right; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 0.5em; }}
figure {{ margin: 0; }}
.warn {{ color: #a00; }}
</style></head><body>
<h1>HW12 grading report</h1>
<p>{n_subs} submissions, {len(table.rows)} student rows, parts {esc(', '.join(table.parts))}.
Scores: scores.csv (a row per student) and questions.csv (a row per student and question).</p>
{"".join(f"<p class=warn>{esc(w)}</p>" for w in warnings)}
{compare_html}
{"".join(_part_section(table, p) for p in table.parts)}
<h2>Flagged for review ({len(flagged)})</h2>
{f"<p>by kind (submission and part): {by_kind}</p>" if by_kind else ""}
{_table(["submission", "part", "students", "score", "flags"],
        [[e["id"], e["part"], _students(e), _num(e["score"]), "; ".join(e["flags"])] for e in flagged])}
<h2>Grading time per submission</h2>
<p>total {sum(secs):.0f} s, median {statistics.median(secs) if secs else 0:.1f} s,
longest {max(secs + [0]):.1f} s</p>
{_figure(_times_chart(table.subs), "grading time per submission")}
<p>The {len(slow)} slowest (every time is in scores.csv, column grading_s):</p>
{_table(["submission", "part", "seconds", "GPU", "host"],
        [[e["id"], e["part"], f"{e['seconds']:.1f}", e["state"].gpu or "",
          e["state"].host] for e in slow], {2})}
</body></html>
"""
    path = out / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(doc)
    tmp.replace(path)
    return path

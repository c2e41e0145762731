"""The batch's outputs for staff: scores.csv, questions.csv, compare.csv and report.html.

Everything here reads the per-submission folders that batch.py wrote (results*.json and
grading.json), so the tables and the report can be rebuilt from a finished output folder.
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

IDENTITY = ["submission", "part", "name", "sid", "email", "submitted_at"]
EPS = 1e-9
SLOWEST = 25  # rows of the grading-time table

# What a failed test's output says, mapped to the flag staff see (see batch.py for "not graded").
FLAG_PATTERNS = [
    ("module hash mismatch", re.compile(r"was written by a different hw12/")),
    ("time-out", re.compile(r"timed out:|did not finish within|time budget of this part")),
    ("runtime error", re.compile(r"^Your code raised an error|grading process stopped during this test")),
    ("grader error", re.compile(r"autograder could not run this test|autograder failed")),
]


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
    tiers = {"cpu": {"cpu"}, "gpu": {"gpu"}, "all": {"cpu", "gpu"}}[tier]
    have = {c.question for c in cases[part] if c.tier in tiers and (questions is None or c.question in questions)}
    return [q for q in cfg.parts[part].questions if q in have]


def _short(message: str) -> str:
    """One line that groups the same mistake across students (no per-student hashes)."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    line = lines[0] if lines else "(no message)"
    line = re.sub(r"\b[0-9a-f]{8,}\b(\.\.\.)?", "…", line)
    return line if len(line) <= 220 else line[:217] + "..."


def _flags(data: dict, state: dict) -> list[str]:
    flags = []
    if state.get("status") in ("not graded", "stopped", "grader error"):
        flags.append(f"{state['status']}: {state.get('reason', '')}".strip())
    if "was not found in your submission" in str(data.get("output", "")):
        flags.append("missing files")
    for name, pattern in FLAG_PATTERNS:
        if any(t.get("status") == "failed" and pattern.search(str(t.get("output", "")))
               for t in data.get("tests", [])):
            if name not in flags:
                flags.append(name)
    return flags


def gather(cfg, cases, out: Path, subs, parts: list[str], questions, tier: str) -> Table:
    """Read every submission's results into one table (a row per student and part)."""
    from .batch import STATE_FILE, result_name

    table = Table(parts=parts, questions={p: _selected_questions(cfg, cases, p, questions, tier)
                                          for p in parts},
                  titles={q: qq.title for p in parts for q, qq in cfg.parts[p].questions.items()},
                  points={q: float(qq.points) for p in parts for q, qq in cfg.parts[p].questions.items()})
    for sub in subs:
        folder = out / sub.id
        try:
            state = json.loads((folder / STATE_FILE).read_text())
        except (OSError, ValueError):
            state = {"status": "stopped", "reason": "not graded yet (the run was interrupted)", "seconds": 0.0}
        for part in parts:
            try:
                data = json.loads((folder / result_name(part, parts)).read_text())
            except (OSError, ValueError):
                data = {"score": 0.0, "tests": [], "output": ""}
            per_q = {q: [0.0, 0.0] for q in table.questions[part]}
            failures: dict[str, list[str]] = defaultdict(list)
            for t in data.get("tests", []):
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
            flags = _flags(data, state) + list(sub.notes)
            entry = {"id": sub.id, "part": part, "students": sub.students or [None],
                     "submitted_at": sub.submitted_at, "state": state, "q": per_q,
                     "score": float(data.get("score") or 0.0),
                     "max": sum(v[1] for v in per_q.values()), "flags": flags,
                     "failures": dict(failures), "seconds": float(state.get("seconds") or 0.0)}
            table.subs.append(entry)
            for st in entry["students"]:
                row = {"submission": sub.id, "part": part, "name": st.name if st else "",
                       "sid": st.sid if st else "", "email": st.email if st else "",
                       "submitted_at": sub.submitted_at}
                for q in table.all_questions:
                    row[q] = _num(per_q[q][0]) if q in per_q else ""
                row.update(score=_num(entry["score"]), max_score=_num(entry["max"]),
                           flags="; ".join(flags), grading_s=f"{entry['seconds']:.1f}")
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


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
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
                      "gain": len(gains), "lose": len(losses), "same": compared - len(gains) - len(losses),
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
    fields = ["question", "students", "gain", "lose", "same", "mean_gain", "max_gain", "mean_loss", "max_loss"]
    _write_csv(out / "compare.csv", fields, result["stats"])
    _write_csv(out / "compare_students.csv",
               ["part", "student", "submission", "name", "question", "old", "new", "change"], result["changes"])
    print(f"\ncompared with {old_csv}:")
    print(f"{'question':16s} {'students':>8s} {'gain':>5s} {'lose':>5s} {'same':>5s}  mean gain / loss")
    for s in result["stats"]:
        print(f"{s['question']:16s} {s['students']:8d} {s['gain']:5d} {s['lose']:5d} {s['same']:5d}  "
              f"{s['mean_gain'] or '-'} / {s['mean_loss'] or '-'}")
    if result["only_new"] or result["only_old"]:
        print(f"({result['only_new']} students only in this run, {result['only_old']} only in the old one)")
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


def write_report(out: Path, table: Table, comparison: dict | None, warnings: list[str]) -> Path:
    esc = html.escape
    n_students = len(table.rows)
    parts_html = []
    for part in table.parts:
        entries = [e for e in table.subs if e["part"] == part]
        weights = [len(e["students"]) for e in entries]
        totals = [e["score"] for e in entries for _ in e["students"]]
        top = max([e["max"] for e in entries] + [0.0])
        sec = [f"<h2>Part {esc(part)}</h2>"]
        q_rows, plots = [], []
        for q in table.questions[part]:
            vals = [e["q"].get(q, [0.0, 0.0])[0] for e in entries for _ in e["students"]]
            qmax = table.points.get(q, 0.0)
            full = sum(1 for v in vals if v >= qmax - EPS and qmax > 0)
            zero = sum(1 for v in vals if v <= EPS)
            q_rows.append(f"<tr><td>{esc(q)}</td><td>{esc(table.titles.get(q, ''))}</td>"
                          f"<td>{_num(qmax)}</td><td>{statistics.fmean(vals) if vals else 0:.2f}</td>"
                          f"<td>{full}</td><td>{zero}</td></tr>")
            plots.append(f'<figure><img alt="histogram of {esc(q)}" src="{_histogram(vals, qmax, f"{q}: {table.titles.get(q, q)}")}">'
                         f"</figure>")
        sec.append("<table><tr><th>question</th><th>title</th><th>points</th><th>mean</th>"
                   "<th>full marks</th><th>zero</th></tr>" + "".join(q_rows) + "</table>")
        sec.append(f'<figure><img alt="histogram of totals" src="{_histogram(totals, top, f"{part}: total")}"></figure>')
        sec.append('<div class="grid">' + "".join(plots) + "</div>")
        sec.append("<h3>What the class got wrong (most frequent failure messages)</h3>")
        for q in table.questions[part]:
            counts: Counter = Counter()
            for e, w in zip(entries, weights):
                for msg in set(e["failures"].get(q, [])):
                    counts[msg] += w
            if not counts:
                continue
            items = "".join(f"<tr><td class=n>{c}</td><td>{esc(m)}</td></tr>"
                            for m, c in counts.most_common(8))
            sec.append(f"<h4>{esc(q)} {esc(table.titles.get(q, ''))}</h4>"
                       f"<table><tr><th>students</th><th>message</th></tr>{items}</table>")
        parts_html.append("\n".join(sec))
    flagged = [e for e in table.subs if e["flags"]]
    flag_rows = "".join(
        f"<tr><td>{esc(e['id'])}</td><td>{esc(e['part'])}</td><td>{esc(_students(e))}</td>"
        f"<td>{_num(e['score'])}</td><td>{esc('; '.join(e['flags']))}</td></tr>" for e in flagged)
    slow = sorted(table.subs, key=lambda e: -e["seconds"])[:SLOWEST]
    time_rows = "".join(f"<tr><td>{esc(e['id'])}</td><td>{esc(e['part'])}</td><td>{e['seconds']:.1f}</td>"
                        f"<td>{esc(e['state'].get('gpu') or '')}</td><td>{esc(e['state'].get('host', ''))}</td></tr>"
                        for e in slow)
    secs = [e["seconds"] for e in table.subs]
    compare_html = ""
    if comparison:
        rows = "".join(f"<tr><td>{esc(s['question'])}</td><td>{s['students']}</td><td>{s['gain']}</td>"
                       f"<td>{s['lose']}</td><td>{s['same']}</td><td>{s['mean_gain']}</td><td>{s['max_gain']}</td>"
                       f"<td>{s['mean_loss']}</td><td>{s['max_loss']}</td></tr>" for s in comparison["stats"])
        compare_html = (f"<h2>Compared with {esc(comparison['old'])}</h2><table><tr><th>question</th>"
                        "<th>students</th><th>gain</th><th>lose</th><th>same</th><th>mean gain</th>"
                        "<th>max gain</th><th>mean loss</th><th>max loss</th></tr>" + rows + "</table>"
                        f"<p>{comparison['only_new']} students only in this run, {comparison['only_old']} "
                        "only in the earlier one; every change is listed in compare_students.csv.</p>")
    warn = "".join(f"<p class=warn>{esc(w)}</p>" for w in warnings)
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
<p>{len({e['id'] for e in table.subs})} submissions, {n_students} student rows, parts {esc(', '.join(table.parts))}.
Scores: scores.csv (a row per student) and questions.csv (a row per student and question).</p>
{warn}
{compare_html}
{''.join(parts_html)}
<h2>Flagged for review ({len(flagged)})</h2>
<table><tr><th>submission</th><th>part</th><th>students</th><th>score</th><th>flags</th></tr>{flag_rows}</table>
<h2>Grading time per submission</h2>
<p>total {sum(secs):.0f} s, median {statistics.median(secs) if secs else 0:.1f} s, longest {max(secs + [0]):.1f} s</p>
<figure><img alt="grading time per submission" src="{_times_chart(table.subs)}"></figure>
<p>The {len(slow)} slowest (every time is in scores.csv, column grading_s):</p>
<table><tr><th>submission</th><th>part</th><th>seconds</th><th>GPU</th><th>host</th></tr>{time_rows}</table>
</body></html>
"""
    path = out / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(doc)
    tmp.replace(path)
    return path

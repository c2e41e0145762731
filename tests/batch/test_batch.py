"""Class-scale grading (`grade EXPORT`): a Gradescope-shaped export graded in parallel and resumably,
with students' identities in scores.csv, a staff report that renders in a real browser, a
before/after comparison, GPU pinning, the submitit path, and hostile or broken submissions.

The default run grades small exports on a grading root with two fast questions (q1a, q1c); the
20-submission export over four questions is marked slow."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, make_root, only_questions

from autograder.batch.export import list_submissions, read_metadata
from autograder.batch.records import BatchOptions
from autograder.batch.run import run_batch
from autograder.checks.mutants import bank_files, load_variant
from autograder.grading.config import load_config
from autograder.grading.results import validate
from autograder.grading.supervisor import Layout

FAST = {"q1a", "q1c"}


# ---- building exports ---------------------------------------------------------------------------------
def reference(dest: Path) -> None:
    shutil.copytree(REPO / "solutions" / "hw12", dest / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))


def stubs(dest: Path) -> None:
    shutil.copytree(REPO / "assignment" / "hw12", dest / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))


def with_code(module: str, code: str):
    def build(dest: Path) -> None:
        reference(dest)
        target = dest / "hw12" / f"{module}.py"
        target.write_text(target.read_text() + "\n" + code + "\n")
    return build


def _bank_path(name: str) -> Path:
    """The diffusion bank's file named ``name`` (in its question's folder)."""
    return next(p for p in bank_files(REPO / "tests" / "mutants", "diffusion") if p.stem == name)


def mutant(name: str):
    v = load_variant(_bank_path(name))
    return with_code(v.module, v.code)


def zipped_reference(dest: Path) -> None:
    """The zip hw12.export writes, uploaded as it is."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(dest / "hw12_diffusion.zip", "w") as zf:
        for f in (REPO / "solutions" / "hw12").glob("*_diffusion.py"):
            zf.write(f, f"hw12/{f.name}")


def zip_bomb(dest: Path) -> None:
    """A small zip that unpacks to more than the upload limit (256 MB)."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(dest / "hw12_diffusion.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("hw12/zeros.bin", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(300):
                f.write(block)


def empty(dest: Path) -> None:
    dest.mkdir(parents=True)


def syntax_error(dest: Path) -> None:
    reference(dest)
    (dest / "hw12" / "binary_diffusion.py").write_text("def survival_prob(t, delta)\n    return 1\n")


def top_level_zip(export: Path, sub_id: str) -> None:
    with zipfile.ZipFile(export / f"{sub_id}.zip", "w") as zf:
        for f in (REPO / "solutions" / "hw12").glob("*_diffusion.py"):
            zf.write(f, f"hw12/{f.name}")


def not_a_zip(export: Path, sub_id: str) -> None:
    (export / f"{sub_id}.zip").write_bytes(b"this is not a zip archive\n" * 10)


def dangling_link(export: Path, sub_id: str) -> None:
    (export / sub_id).symlink_to(export / "does-not-exist")


HANG_AT_IMPORT = with_code("binary_diffusion", "while True:\n    pass")
HANG_IN_FUNCTION = with_code("binary_diffusion",
                             "def survival_prob(t, delta):\n    while True:\n        pass")


def student(i: int, name: str | None = None) -> dict:
    return {"name": name or f"Student {i}", "sid": f"30310{i:05d}", "email": f"s{i}@berkeley.edu"}


def metadata_yaml(entries: dict[str, list[dict]]) -> str:
    """submission_metadata.yml as Gradescope writes it (Ruby symbols as keys, a tagged score)."""
    lines = []
    for n, (sub_id, people) in enumerate(entries.items()):
        lines.append(f"{sub_id}:")
        lines.append("  :submitters:")
        for p in people:
            lines += [f"  - :name: {p['name']}", f"    :sid: '{p['sid']}'", f"    :email: {p['email']}"]
        lines.append(f"  :created_at: 2026-11-{10 + n % 18:02d} 21:{n % 60:02d}:05.123456000 -08:00")
        lines.append("  :score: !ruby/object:BigDecimal 18:0.0")
        lines.append("  :history: []")
    return "\n".join(lines) + "\n"


def make_export(path: Path, builders: dict, people: dict[str, list[dict]] | None = None,
                metadata: str | None = None) -> Path:
    """builders: id -> f(dest folder) or ("export", f(export, id)) for entries that are not folders."""
    path.mkdir(parents=True)
    for sub_id, build in builders.items():
        if isinstance(build, tuple):
            build[1](path, sub_id)
        else:
            build(path / sub_id)
    if metadata is None and people is not None:
        metadata = metadata_yaml(people)
    if metadata is not None:
        (path / "submission_metadata.yml").write_text(metadata)
    return path


def fast_root(tmp: Path, questions=FAST, **defaults) -> Path:
    def edit(cfg):
        # the default 30 s per case keeps grades independent of machine load; a hang at import
        # (5 s) is what the hostile submissions exercise
        cfg["defaults"].update({"time_limit_s": 30, "import_timeout_s": 5, **defaults})
        only_questions(cfg, "diffusion", set(questions))
    return make_root(tmp, edit)


def batch(root: Path, export: Path, out: Path, **opts):
    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)
    options = BatchOptions(**{"part": "diffusion", "jobs": 2, "progress": False, **opts})
    assert run_batch(layout, cfg, cases, export, out, options) == 0
    return read_scores(out)


def read_scores(out: Path) -> list[dict]:
    with open(out / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def by_submission(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["submission"], []).append(r)
    return out


def case_results(out: Path, sub_id: str) -> list[tuple]:
    data = json.loads((out / sub_id / "results.json").read_text())
    return [(t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]
            if "max_score" in t]  # the summary entry has no score


def state_of(out: Path, sub_id: str) -> dict:
    return json.loads((out / sub_id / "grading.json").read_text())


# ---- submission_metadata.yml ---------------------------------------------------------------------------
def test_metadata_in_gradescopes_format_gives_every_student_of_a_group(tmp_path):
    export = make_export(tmp_path / "export", {"submission_7": empty, "submission_8": empty},
                         {"submission_7": [student(1, "Ada Lovelace")],
                          "submission_8": [student(2), student(3)],
                          "submission_9": [student(4)]})
    meta, problem = read_metadata(export)
    assert problem is None
    assert [s.name for s in meta["submission_8"]["students"]] == ["Student 2", "Student 3"]
    assert meta["submission_7"]["students"][0].sid == "3031000001"  # quoted: leading zeros kept
    assert meta["submission_7"]["submitted_at"].startswith("2026-11-10T21:00:05")
    subs, warnings = list_submissions(export)
    assert [s.id for s in subs] == ["submission_7", "submission_8", "submission_9"]
    assert subs[2].path is None and "not in the export" in subs[2].flags[0].text
    assert warnings == []


@pytest.mark.parametrize("text, words", [
    (None, "missing"),
    ("submission_1: [unclosed\n  :submitters: {\n", "could not be read"),
    ("- just\n- a list\n", "not a mapping"),
    ("submission_1:\n  :submitters: nobody\n", "no submitters list"),
])
def test_missing_or_malformed_metadata_is_a_warning_not_a_stop(tmp_path, text, words):
    export = make_export(tmp_path / "export", {"submission_1": empty}, metadata=text)
    subs, warnings = list_submissions(export)
    assert [s.id for s in subs] == ["submission_1"] and subs[0].students == []
    assert len(warnings) == 1 and words in warnings[0]


# ---- one small export graded once, checked from every side ------------------------------------------------
SMALL = {
    "submission_101": reference,
    "submission_102": stubs,
    "submission_103": mutant("bd_q1c_tanh"),           # loses q1c only
    "submission_104": reference,                       # a group of two
    "submission_105": syntax_error,
    "submission_106": HANG_AT_IMPORT,
    "submission_107": zip_bomb,
    "submission_108": empty,
    "submission_109": ("export", not_a_zip),
    "submission_110": ("export", dangling_link),
    "submission_111": zipped_reference,                 # not in the metadata
    "submission_112": ("export", top_level_zip),
}
SMALL_PEOPLE = {k: [student(i)] for i, k in enumerate(SMALL, 1) if k != "submission_111"}
SMALL_PEOPLE["submission_104"] = [student(4, "Pair One"), student(40, "Pair Two")]
SMALL_PEOPLE["submission_113"] = [student(13, "No Files")]  # in the metadata, not in the export


@pytest.fixture(scope="session")
def small(tmp_path_factory, worker_id):
    """Graded once per test session, shared by pytest-xdist workers (a file lock; the first grades).
    Tests that change the export or the output work on their own copy (see ``own_copy``)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else \
        tmp_path_factory.getbasetemp().parent
    tmp = shared / "small-export"
    with FileLock(str(shared / "small-export.lock")):
        if not (tmp / "done").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            root = fast_root(tmp)
            make_export(tmp / "export", SMALL, SMALL_PEOPLE)
            batch(root, tmp / "export", tmp / "out", jobs=2)
            (tmp / "done").touch()
    return {"root": tmp / "root", "export": tmp / "export", "out": tmp / "out",
            "rows": read_scores(tmp / "out")}


def own_copy(small: dict, tmp: Path) -> dict:
    """The graded export and its output copied to ``tmp`` (content hashes do not depend on paths)."""
    export, out = tmp / "export", tmp / "out"
    shutil.copytree(small["export"], export, symlinks=True)
    shutil.copytree(small["out"], out)
    return dict(small, export=export, out=out, tmp=tmp)


def test_every_submission_and_every_student_gets_a_row(small):
    rows = by_submission(small["rows"])
    assert set(rows) == set(SMALL) | {"submission_113"}
    assert [r["name"] for r in rows["submission_104"]] == ["Pair One", "Pair Two"]
    assert {r["score"] for r in rows["submission_104"]} == {"3"}
    one = rows["submission_101"][0]
    assert (one["sid"], one["email"]) == ("3031000001", "s1@berkeley.edu")
    assert one["submitted_at"].startswith("2026-11-10T21:00:05")
    assert list(small["rows"][0])[:6] == ["submission", "part", "name", "sid", "email", "submitted_at"]
    assert {"q1a", "q1c", "score", "max_score", "flags"} <= set(small["rows"][0])
    assert "not in submission_metadata.yml" in rows["submission_111"][0]["flags"]
    assert rows["submission_113"][0]["name"] == "No Files"
    for sub_id in rows:  # each folder holds its own submission's grading, nothing else
        assert state_of(small["out"], sub_id)["submission"] == sub_id
        assert {p.name for p in (small["out"] / sub_id).iterdir()} == {"results.json", "grading.json"}


def test_parallel_slots_each_get_their_own_cpus(small):
    """With --jobs 2 on a machine of at least 2 CPUs each slot (its runner and student workers) is
    pinned to its own share of the CPUs."""
    allowed = set(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one CPU: slots are not pinned")
    used = {tuple(state_of(small["out"], r["submission"])["cpus"]) for r in small["rows"]}
    assert all(set(c) < allowed for c in used), used
    assert len(used) == 2 and not set(min(used)) & set(max(used)), used


@pytest.mark.parametrize("slots", [1, 2, 3, 4, 9])
def test_slot_cpu_shares_are_disjoint_and_only_when_there_are_enough_cpus(slots, monkeypatch):
    from autograder.batch import one as batch_module
    from autograder.batch import pool

    monkeypatch.setattr(batch_module.os, "sched_getaffinity", lambda pid: {0, 2, 3, 5})
    shares = pool.slot_cpus(slots)
    assert len(shares) == slots
    if slots == 1 or slots > 4:
        assert shares == [None] * slots
    else:
        assert all(shares) and set().union(*shares) <= {0, 2, 3, 5}
        assert sum(len(c) for c in shares) == len(set().union(*shares))  # disjoint
        assert len({len(c) for c in shares}) == 1  # equal shares


def test_scores_match_what_each_submission_deserves(small):
    rows = {k: v[0] for k, v in by_submission(small["rows"]).items()}
    for full in ("submission_101", "submission_104", "submission_111", "submission_112"):
        assert (rows[full]["q1a"], rows[full]["q1c"], rows[full]["score"]) == ("2", "1", "3"), full
    assert rows["submission_102"]["score"] == "0"
    assert rows["submission_103"]["q1a"] == "2" and float(rows["submission_103"]["q1c"]) < 1
    assert rows["submission_105"]["score"] == "0"
    for r in rows.values():
        assert r["max_score"] == "3"
    for sub_id in SMALL:
        validate(json.loads((small["out"] / sub_id / "results.json").read_text()))
    syntax = json.loads((small["out"] / "submission_105" / "results.json").read_text())
    assert "SyntaxError" in json.dumps(syntax["tests"])
    assert "import error" in rows["submission_105"]["flags"]


def test_bad_input_gives_zero_with_the_reason(small):
    rows = {k: v[0] for k, v in by_submission(small["rows"]).items()}
    reasons = {
        "submission_107": "more than 256 MB",
        "submission_108": "folder is empty",
        "submission_109": "not a readable zip",
        "submission_110": "broken link",
        "submission_113": "no files for this submission",
    }
    for sub_id, words in reasons.items():
        assert rows[sub_id]["score"] == "0" and rows[sub_id]["q1a"] == "0", sub_id
        assert "not graded" in rows[sub_id]["flags"] and words in rows[sub_id]["flags"], rows[sub_id]
        results = json.loads((small["out"] / sub_id / "results.json").read_text())
        validate(results)
        assert words in results["output"]
    assert "time-out" in rows["submission_106"]["flags"] and rows["submission_106"]["score"] == "0"


def test_parallel_grading_gives_the_same_per_test_scores_as_one_at_a_time(small, tmp_path):
    """The export's reference and mutant graded again with --jobs 1 give identical tests."""
    export = tmp_path / "serial-export"
    export.mkdir()
    for sub_id in ("submission_101", "submission_103"):
        shutil.copytree(small["export"] / sub_id, export / sub_id)
    out = tmp_path / "serial"
    batch(small["root"], export, out, jobs=1)
    for sub_id in ("submission_101", "submission_103"):
        assert case_results(out, sub_id) == case_results(small["out"], sub_id), sub_id


def test_question_csv_has_a_row_per_student_and_question_with_messages(small):
    with open(small["out"] / "questions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(small["rows"])
    tanh = [r for r in rows if r["submission"] == "submission_103" and r["question"] == "q1c"][0]
    assert float(tanh["score"]) < 1 and tanh["max_score"] == "1" and tanh["failures"]


def test_unchanged_submissions_are_not_graded_again_and_force_regrades(small, tmp_path, capsys):
    small = own_copy(small, tmp_path)
    before = {s: state_of(small["out"], s) for s in SMALL}
    batch(small["root"], small["export"], small["out"])
    assert "0 to grade, 13 unchanged" in capsys.readouterr().out
    assert {s: state_of(small["out"], s) for s in SMALL} == before
    # one student resubmits: only that submission is graded again
    target = small["export"] / "submission_103" / "hw12" / "binary_diffusion.py"
    target.write_text(target.read_text() + "\nQ1C_ANSWER = 'sigmoid'\n")
    rows = by_submission(batch(small["root"], small["export"], small["out"]))
    assert "1 to grade, 12 unchanged" in capsys.readouterr().out
    assert rows["submission_103"][0]["q1c"] == "1"
    assert state_of(small["out"], "submission_103")["run"] != before["submission_103"]["run"]
    assert state_of(small["out"], "submission_101") == before["submission_101"]
    # --force regrades although nothing changed (two submissions that are refused quickly)
    export2 = make_export(tmp_path / "force-export", {"submission_1": empty, "submission_2": ("export", not_a_zip)})
    out2 = tmp_path / "force-out"
    batch(small["root"], export2, out2)
    batch(small["root"], export2, out2)
    assert "0 to grade, 2 unchanged" in capsys.readouterr().out
    batch(small["root"], export2, out2, force=True)
    assert "2 to grade, 0 unchanged" in capsys.readouterr().out


def test_a_changed_config_regrades_everything(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    root, edited = fast_root(tmp_path / "a"), fast_root(tmp_path / "b", seed=183)
    export = make_export(tmp_path / "export", {"submission_1": empty})
    out = tmp_path / "out"
    batch(root, export, out)
    batch(root, export, out)
    assert "0 to grade, 1 unchanged" in capsys.readouterr().out
    batch(edited, export, out)
    assert "1 to grade, 0 unchanged" in capsys.readouterr().out


def test_compare_counts_who_gains_and_who_loses(small, tmp_path, capsys):
    small = own_copy(small, tmp_path)
    old = tmp_path / "old-run"
    old.mkdir()
    rows = read_scores(small["out"])
    for r in rows:  # an earlier run in which q1c was harder for the reference and easier for stubs
        if r["submission"] == "submission_101":
            r["q1c"], r["score"] = "0", "2"
        if r["submission"] == "submission_102":
            r["q1c"], r["score"] = "0.5", "0.5"
    with open(old / "scores.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    batch(small["root"], small["export"], small["out"], compare=old)
    printed = capsys.readouterr().out
    stats = {s["question"]: s for s in csv.DictReader(open(small["out"] / "compare.csv"))}
    assert (stats["q1c"]["gain"], stats["q1c"]["lose"], stats["q1c"]["mean_gain"],
            stats["q1c"]["mean_loss"]) == ("1", "1", "1", "0.5")
    assert (stats["q1a"]["gain"], stats["q1a"]["lose"]) == ("0", "0")
    assert (stats["total"]["gain"], stats["total"]["lose"]) == ("1", "1")
    assert "q1c" in printed and "compared with" in printed
    changes = list(csv.DictReader(open(small["out"] / "compare_students.csv")))
    assert {(c["submission"], c["question"], c["change"]) for c in changes} == {
        ("submission_101", "q1c", "+1"), ("submission_101", "score", "+1"),
        ("submission_102", "q1c", "-0.5"), ("submission_102", "score", "-0.5")}
    assert "Compared with" in (small["out"] / "report.html").read_text()


CHECK_IMAGES = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  const p = document.createElement("pre");
  p.id = "image-check";
  p.textContent = "images loaded " + loaded + " of " + images.length;
  document.body.appendChild(p);
});
</script>
"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_with_its_images_in_a_headless_browser(small, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs the Debian package)")
    html = (small["out"] / "report.html").read_text()
    for words in ("Part diffusion", "What the class got wrong", "Flagged for review",
                  "Grading time per submission", "submission_107", "Q1C_ANSWER"):
        assert words in html, words
    assert re.search(r"by kind \(submission and part\): .*import error: 1.*</p>", html), \
        "the flags counted by kind"
    n_images = html.count("<img ")
    assert n_images >= 4  # a histogram per question, the totals, the grading times
    page = tmp_path / "check.html"
    page.write_text(html.replace("</body>", CHECK_IMAGES + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert f"images loaded {n_images} of {n_images}" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1200,2400", f"--screenshot={shot}",
                    (small["out"] / "report.html").as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


# ---- interrupting, timing out, pinning, submitit --------------------------------------------------------
RUN_BATCH = """
import sys
from pathlib import Path
from autograder.batch.records import BatchOptions
from autograder.batch.run import run_batch
from autograder.grading.config import load_config
from autograder.grading.supervisor import Layout
layout = Layout(Path(sys.argv[1]))
cfg, cases = load_config(layout.config, layout.tests)
sys.exit(run_batch(layout, cfg, cases, Path(sys.argv[2]), Path(sys.argv[3]),
                   BatchOptions(part="diffusion", jobs=1, progress=False)))
"""


def test_an_interrupted_run_picks_up_where_it_stopped(tmp_path, capsys):
    root = fast_root(tmp_path)
    subs = {f"submission_{i}": reference for i in range(1, 4)}
    export = make_export(tmp_path / "export", subs, {k: [student(i)] for i, k in enumerate(subs)})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", RUN_BATCH, str(root), str(export), str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    while not list(out.glob("*/grading.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    printed = proc.communicate(timeout=120)[0]
    finished = sorted(p.parent.name for p in out.glob("*/grading.json"))
    assert finished, printed
    if proc.returncode != 0:  # stopped before the end: says so, and left no half-graded folder behind
        assert "interrupted" in printed
        assert not (out / "scores.csv").exists()
    kept = {s: state_of(out, s) for s in finished}
    rows = batch(root, export, out, jobs=1)
    assert f"{3 - len(finished)} to grade, {len(finished)} unchanged" in capsys.readouterr().out
    assert {s: state_of(out, s) for s in finished} == kept
    assert [r["score"] for r in rows] == ["3", "3", "3"]
    # a folder left by a grading killed half-way (results written, no grading.json) is graded again
    (out / "submission_2" / "grading.json").unlink()
    batch(root, export, out, jobs=1)
    assert "1 to grade, 2 unchanged" in capsys.readouterr().out


def test_a_grading_that_hangs_is_stopped_from_outside_and_the_batch_goes_on(tmp_path):
    root = fast_root(tmp_path, time_limit_s=600)
    export = make_export(tmp_path / "export", {"submission_1": HANG_IN_FUNCTION, "submission_2": empty},
                         {"submission_1": [student(1)], "submission_2": [student(2)]})
    out = tmp_path / "out"
    rows = by_submission(batch(root, export, out, submission_timeout_s=3))
    assert rows["submission_1"][0]["score"] == "0"
    assert "stopped" in rows["submission_1"][0]["flags"] and "within 3 s" in rows["submission_1"][0]["flags"]
    assert state_of(out, "submission_1")["hash"] is None  # tried again next time
    assert "folder is empty" in rows["submission_2"][0]["flags"]


def _pinning_export(tmp: Path) -> Path:
    subs = {"submission_1": reference, "submission_2": mutant("bd_q1c_tanh"), "submission_3": stubs}
    return make_export(tmp / "export", subs, {k: [student(i)] for i, k in enumerate(subs)})


def test_notebook_logs_that_do_not_fit_or_are_shared_are_flagged(tmp_path):
    """RLHF, q4_log only. submission_1: the log's module hash does not match the submitted rlhf.py
    (edited after the run); submission_2: the same log with the reference code, so both carry one
    notebook run; submission_3: another run (its own wall time) whose replay was edited by hand;
    submission_4: the code without its log."""
    root = make_root(tmp_path, lambda cfg: only_questions(cfg, "rlhf", {"q4_log"}))
    code = (REPO / "solutions" / "hw12" / "rlhf.py").read_text()
    log = json.loads((REPO / "solutions" / "submission_log.json").read_text())

    def upload(module: str, data: dict | None):
        def write(dest: Path) -> None:
            (dest / "hw12").mkdir(parents=True)
            (dest / "hw12" / "rlhf.py").write_text(module)
            if data is not None:
                (dest / "submission_log.json").write_text(json.dumps(data))
        return write

    other_run = json.loads(json.dumps(log))
    other_run["wall_time_s"] += 1.0
    other_run["replay"]["stages"]["reward_model"]["loss"][1] *= 1.001
    subs = {"submission_1": upload(code + "\n# tidied up after running the notebook\n", log),
            "submission_2": upload(code, log), "submission_3": upload(code, other_run),
            "submission_4": upload(code, None)}
    export = make_export(tmp_path / "export", subs, {k: [student(i)] for i, k in enumerate(subs)})
    out = tmp_path / "out"
    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)
    run_batch(layout, cfg, cases, export, out, BatchOptions(jobs=1, progress=False))  # part detected
    rows = {r["submission"]: r for r in read_scores(out)}
    assert all(r["part"] == "rlhf" for r in rows.values())
    assert "module hash mismatch" in rows["submission_1"]["flags"]
    assert 0 < float(rows["submission_1"]["q4_log"]) < 5
    assert "the same notebook run as submission_2" in rows["submission_1"]["flags"]
    assert "the same notebook run as submission_1" in rows["submission_2"]["flags"]
    assert rows["submission_2"]["q4_log"] == "5"
    assert "log does not replay" in rows["submission_3"]["flags"]
    assert "same notebook run" not in rows["submission_3"]["flags"]
    assert rows["submission_3"]["q4_log"] == "0"
    assert rows["submission_4"]["flags"] == "missing files" and rows["submission_4"]["q4_log"] == "0"


def _scores_without_times(out: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("grading_s", "flags")} for r in read_scores(out)]


def test_gpu_pinning_and_the_submitit_path_grade_like_the_local_pool(tmp_path):
    """--gpus 0,1 pins each grading through CUDA_VISIBLE_DEVICES (reduced CPU versions here); the
    submitit local executor (what --executor slurm runs, on this machine) gives the same results."""
    root = fast_root(tmp_path)
    export = _pinning_export(tmp_path)
    pinned = tmp_path / "pinned"
    batch(root, export, pinned, gpus=["0", "1"], jobs_per_gpu=1, device="cpu")
    gpus = {state_of(pinned, s)["gpu"] for s in ("submission_1", "submission_2", "submission_3")}
    assert gpus <= {"0", "1"} and gpus
    via_submitit = tmp_path / "submitit"
    batch(root, export, via_submitit, executor="submitit-local", chunk_size=2, jobs=1, device="cpu")
    assert len(list((via_submitit / "_submitit").glob("chunk-*.json"))) == 2
    assert _scores_without_times(via_submitit) == _scores_without_times(pinned)
    for s in ("submission_1", "submission_2", "submission_3"):
        assert case_results(via_submitit, s) == case_results(pinned, s)
    assert (via_submitit / "report.html").exists()


def test_slurm_array_tasks_ask_for_what_the_options_say(tmp_path, monkeypatch):
    """The sbatch script submitit would submit (rendered without a cluster: a stand-in srun)."""
    import submitit

    from autograder.batch.cluster import slurm_parameters

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    opts = BatchOptions(executor="slurm", jobs_per_gpu=2, slurm={
        "partition": "gpu", "gpus_per_task": 1, "mem_gb": 32, "account": "ee182", "time_min": None})
    params = slurm_parameters(opts, per_task=2, minutes=300, n_chunks=20)
    ex = submitit.AutoExecutor(folder=tmp_path / "logs", cluster="slurm")
    ex.update_parameters(**params)
    script = ex._executor._make_submission_file_text("python -m autograder.batch.run chunk x", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=300",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --mem=32GB", "#SBATCH --account=ee182"):
        assert line in script, script


def test_command_line_batch_options(tmp_path):
    """`grade EXPORT --jobs --force --compare`: the arguments reach the batch (no grading here)."""
    export = make_export(tmp_path / "export", {"submission_1": empty}, {"submission_1": [student(1)]})
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(export), "--part", "diffusion",
           "--output", str(out), "--jobs", "2", "--quiet"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run(cmd + ["--force", "--compare", str(out)], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "1 to grade, 0 unchanged" in again.stdout and "compared with" in again.stdout
    row = read_scores(out)[0]
    assert (row["name"], row["score"]) == ("Student 1", "0") and "folder is empty" in row["flags"]


# ---- the full export (slow) ---------------------------------------------------------------------------------
FULL_QUESTIONS = {"q1a", "q1b", "q1c", "q1d"}
MUTANTS = ["bd_q1c_relu", "bd_q1c_tanh", "bd_survival_one_minus_delta", "bd_sample_float32",
           "bd_posterior_plus_only", "bd_sample_scalar_t", "bd_survival_counts_from_one"]


@pytest.mark.slow
def test_a_class_export_of_twenty_submissions(tmp_path):
    root = fast_root(tmp_path, questions=FULL_QUESTIONS)
    builders = {"submission_1": reference, "submission_2": reference, "submission_3": stubs,
                "submission_4": zipped_reference, "submission_5": syntax_error,
                "submission_6": HANG_AT_IMPORT, "submission_7": zip_bomb, "submission_8": empty,
                "submission_9": ("export", not_a_zip), "submission_10": ("export", top_level_zip),
                "submission_11": with_code("binary_diffusion", "import os\nos._exit(0)"),
                "submission_12": with_code("binary_diffusion", "raise RuntimeError('boom')"),
                "submission_13": mutant("bd_posterior_scalar_t")}
    for i, name in enumerate(MUTANTS, 14):
        builders[f"submission_{i}"] = mutant(name)
    people = {k: [student(i)] for i, k in enumerate(builders, 1)}
    people["submission_2"] = [student(2), student(200), student(201)]
    export = make_export(tmp_path / "export", builders, people)
    assert len(builders) >= 20
    out = tmp_path / "out"
    rows = by_submission(batch(root, export, out, jobs=2))
    assert set(rows) == set(builders) and len(rows["submission_2"]) == 3
    full = {"q1a": 2.0, "q1b": 4.0, "q1c": 1.0, "q1d": 3.5}
    for s in ("submission_1", "submission_2", "submission_4", "submission_10"):
        assert {q: float(rows[s][0][q]) for q in full} == full, s
    for s in ("submission_3", "submission_5", "submission_6", "submission_7", "submission_8",
              "submission_9", "submission_11", "submission_12"):
        assert float(rows[s][0]["score"]) == 0, s
    for i, name in enumerate(MUTANTS, 14):  # each loses points on its own question only
        got = {q: float(rows[f"submission_{i}"][0][q]) for q in full}
        assert {q for q in full if got[q] < full[q]} == {load_variant(_bank_path(name)).question}, name
    for s in builders:
        validate(json.loads((out / s / "results.json").read_text()))
    assert "time-out" in rows["submission_6"][0]["flags"]
    assert "runtime error" in rows["submission_11"][0]["flags"]
    assert "import error" in rows["submission_12"][0]["flags"]
    assert float(rows["submission_13"][0]["q1d"]) < full["q1d"]
    assert os.path.getsize(out / "report.html") > 10_000


def test_editing_a_staff_tool_regrades_nobody_and_editing_grading_code_regrades_all(tmp_path):
    """The content hash behind reuse covers exactly the grading code (autograder/build/imports.py):
    a changed report or build leaves every stored grading valid, a changed supervisor does not."""
    from autograder.batch.hashing import grader_fingerprint

    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(REPO / "autograder", root / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("assignment", "solutions", "grading_config.yaml"):
        (root / name).symlink_to(REPO / name)
    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)

    def fingerprint():
        return grader_fingerprint(layout, cases, ["rlhf"], "cpu", "cpu", None)

    before = fingerprint()
    for staff in ("batch/report.py", "build/release.py", "checks/validate.py", "cli.py",
                  "batch/run.py", "batch/records.py", "build/imports.py"):
        path = root / "autograder" / staff
        assert path.is_file(), staff
        with open(path, "a") as f:
            f.write("\n# a staff-only edit\n")
    assert fingerprint() == before
    with open(root / "autograder" / "grading" / "supervisor.py", "a") as f:
        f.write("\n# a grading edit\n")
    assert fingerprint() != before

"""One upload opener for every path: ``grade`` and the Gradescope zip grade each shape of upload alike.

A differential corpus: for each shape a student might upload for the RLHF part (loose files, an
``hw12/`` folder, a nested folder, only the zip that ``python -m hw12.export`` writes, that zip
beside other files, the other part's files, nothing), and for a mutant and the stubs, the per-test
scores of ``grade`` (``uploads.open_upload`` then the grading, as ``python -m autograder grade``
runs them) equal those of the Gradescope simulation of the same folder. Two questions keep it
short: one function (q4_rm_loss) and the log (q4_log). ``make test`` grades five shapes,
``make test-extended`` all nine. Then the archive limits of ``uploads.safe_extract`` on their own.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, grade, make_root, only_questions, simulate_upload

QUESTIONS = {"q4_rm_loss", "q4_log"}


def _files() -> dict[str, bytes]:
    """{name: bytes} of the reference RLHF upload: rlhf.py and its log."""
    return {"rlhf.py": (REPO / "solutions" / "hw12" / "rlhf.py").read_bytes(),
            "submission_log.json": (REPO / "solutions" / "submission_log.json").read_bytes()}


def _write(dest: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    return dest


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path


def _mutant_code() -> str:
    from autograder.checks.mutants import load_variant

    variant = load_variant(REPO / "tests" / "mutants" / "rlhf" / "q4_rm_loss" / "rm_swapped.py")
    return variant.applied_to((REPO / "solutions" / "hw12" / "rlhf.py").read_text())


def _shape(name: str, dest: Path) -> Path:
    f = _files()
    packaged = {"hw12/rlhf.py": f["rlhf.py"], "submission_log.json": f["submission_log.json"]}
    if name == "loose files":
        return _write(dest, f)
    if name == "hw12 folder":
        return _write(dest, packaged)
    if name == "nested folder":
        return _write(dest, {f"my_homework/{k}": v for k, v in packaged.items()})
    if name == "only the exported zip":
        _zip(dest / "hw12_rlhf_submission.zip", packaged)
        return dest
    if name == "the zip beside other files":
        _zip(dest / "hw12_rlhf_submission.zip", packaged)
        return _write(dest, {"notes.txt": b"my notes", "hw12_rlhf.ipynb": b"{}"})
    if name == "the other part's files":
        return _write(dest, {"hw12/early_exit.py": (REPO / "solutions" / "hw12" /
                                                   "early_exit.py").read_bytes(),
                             "early_exit_answers.json": (REPO / "solutions" /
                                                         "early_exit_answers.json").read_bytes()})
    if name == "empty":
        dest.mkdir(parents=True)
        return dest
    if name == "a mutant in a zip":
        _zip(dest / "upload.zip", {"hw12/rlhf.py": _mutant_code().encode(),
                                   "submission_log.json": f["submission_log.json"]})
        return dest
    if name == "the stubs":
        return _write(dest, {"hw12/rlhf.py": (REPO / "assignment" / "hw12" / "rlhf.py").read_bytes()})
    raise ValueError(name)


SHAPES = ["loose files", "hw12 folder", "nested folder", "only the exported zip",
          "the zip beside other files", "the other part's files", "empty", "a mutant in a zip",
          "the stubs"]
# make test grades these (the opener's cases); make test-extended, which CI runs too, all of them
DEFAULT = {"hw12 folder", "only the exported zip", "the other part's files", "empty",
           "a mutant in a zip"}
FULL_MARKS = {"loose files", "hw12 folder", "nested folder", "only the exported zip",
              "the zip beside other files"}


def _scores(results: dict) -> dict[str, float]:
    return {t["name"]: float(t["score"]) for t in results["tests"] if "max_score" in t}


@pytest.mark.gradescope
@pytest.mark.parametrize("shape", [pytest.param(s, marks=() if s in DEFAULT else pytest.mark.extended)
                                   for s in SHAPES])
def test_grade_and_the_gradescope_zip_grade_every_upload_shape_alike(shape, gradescope_sim,
                                                                      tmp_path):
    from autograder.grading.uploads import open_upload

    root = make_root(tmp_path, lambda cfg: only_questions(cfg, "rlhf", QUESTIONS))
    upload = _shape(shape, tmp_path / "as_uploaded")
    (tmp_path / "opened").mkdir()
    opened = open_upload(upload, tmp_path / "opened", ["rlhf"])
    mine = grade(root, "rlhf", opened)
    sim = simulate_upload(root, "rlhf", upload, tmp_path)
    assert _scores(mine) == _scores(sim.results), (shape, mine["output"][:800])
    total = sum(_scores(mine).values())
    if shape in FULL_MARKS:
        assert total == sim.max_score > 0, mine["output"][:800]
    elif shape == "a mutant in a zip":  # its log is the reference's: q4_log is lost as well
        assert total < sim.max_score
    else:
        assert total == 0
    if shape == "the other part's files":
        for text in (mine["output"], sim.results["output"]):
            assert "looks like the early_exit part" in text, text[:800]


# ---- the archive limits (uploads.safe_extract) ----------------------------------------------------
def test_a_zip_of_too_many_files_is_refused_before_anything_is_unpacked(tmp_path):
    from autograder.grading.uploads import MAX_UPLOAD_FILES, UploadError, safe_extract

    archive = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(MAX_UPLOAD_FILES + 1)})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UploadError, match=f"at most {MAX_UPLOAD_FILES}"):
        safe_extract(archive, dest)
    assert not any(dest.iterdir())
    _zip(archive, {f"f{i}.txt": b"" for i in range(MAX_UPLOAD_FILES)})
    safe_extract(archive, dest)  # the limit itself is allowed
    assert len(list(dest.iterdir())) == MAX_UPLOAD_FILES


def test_a_zip_that_unpacks_past_the_size_limit_is_refused(tmp_path, monkeypatch):
    from autograder.grading import uploads

    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    archive = _zip(tmp_path / "big.zip", {"a.txt": b"x" * 600, "b.txt": b"y" * 600})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(uploads.UploadError, match="unpacks to more than"):
        uploads.safe_extract(archive, dest)
    assert not any(dest.iterdir())


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "hw12/../../escape.txt"])
def test_a_zip_entry_outside_the_upload_is_refused(tmp_path, name):
    from autograder.grading.uploads import UploadError, safe_extract

    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, b"planted")
    dest = tmp_path / "deep" / "out"
    dest.mkdir(parents=True)
    with pytest.raises(UploadError, match="points outside the upload"):
        safe_extract(archive, dest)
    assert not list(tmp_path.rglob("escape.txt")) and not Path("/abs/escape.txt").exists()


def test_a_folder_thousands_deep_is_searched_without_recursion(tmp_path):
    """find_file walks the upload with a stack, not recursion (a folder 1,200 deep once stopped
    the batch); the deep tree is removed the same way, since pytest's own clean-up recurses."""
    from autograder.grading.sandbox.cleanup import remove_tree
    from autograder.grading.uploads import find_file

    top = tmp_path / "upload"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(1200):
            os.mkdir("a", dir_fd=fd)
            fd, old = os.open("a", os.O_RDONLY, dir_fd=fd), fd
            os.close(old)
        os.close(os.open("rlhf.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    try:
        found = find_file(top, "hw12/rlhf.py")
        assert found is not None and found.name == "rlhf.py" and len(found.parts) > 1200
    finally:
        remove_tree(top)

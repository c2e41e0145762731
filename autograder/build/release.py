"""The release generator: ``solutions/`` -> ``assignment/`` (stubs, notebooks, public tests, written).

Solution blocks (``# BEGIN SOLUTION`` ... ``# END SOLUTION``) become stubs: their ``# HINT:`` lines
survive as ``# TODO:`` lines, followed by ``raise NotImplementedError`` (in a notebook cell, with
"fill in the TODO in cell N: <what the cell computes>"). ``NAME = value  # SOLUTION`` becomes ``NAME = None  # TODO``. Output is a pure
function of the inputs (sorted walks, no timestamps), so building twice changes nothing.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from autograder.build.parts import write_parts
from autograder.build.student_guide import (
    BEFORE,
    SUBMIT,
    TABLE,
    TODOS,
    before_you_start,
    fill_markers,
    notebook_todos,
    parts_table,
    set_colab_source,
    submit_block,
)

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT = re.compile(r"^\s*# HINT:\s?(.*)$")
ONE_LINE = re.compile(r"^(\s*)([A-Za-z_]\w*)(\s*:\s*[^=]+)?\s*=.*#\s*SOLUTION\s*$")
DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers."""


def _enclosing_def(lines: list[str], index: int, indent: str) -> str | None:
    for line in reversed(lines[:index]):
        m = DEF.match(line)
        if m and len(m.group(1)) < len(indent):
            return m.group(2)
    return None


def todo_label(source: str) -> str:
    """What a notebook TODO cell computes, for students: the first sentence of its opening comment,
    else of its hints (at most 100 characters)."""
    lines = source.strip().splitlines()
    opening = []
    for line in lines:
        if not line.startswith("#") or BEGIN.match(line) or HINT.match(line):
            break
        opening.append(line.lstrip("#").strip())
    words = opening or [h.group(1) for h in map(HINT.match, lines) if h]
    text = re.split(r"\.\s", " ".join(words) + " ")[0].strip().rstrip(".:")
    return text if len(text) <= 100 else text[:99].rstrip() + "…"


def todo_stop(cell: int, source: str) -> str:
    """The message an unfilled notebook TODO cell stops with (``cell`` counts from 1)."""
    label = todo_label(source)
    return f"fill in the TODO in cell {cell}" + (f": {label}" if label else "")


def todo_cells(notebook_text: str) -> list[tuple[int, str]]:
    """(cell number from 1, label) of each code cell of a solution notebook that has a TODO."""
    cells = json.loads(notebook_text).get("cells", [])
    sources = ["".join(c.get("source", "")) for c in cells]
    return [(n, todo_label(src)) for n, (c, src) in enumerate(zip(cells, sources), 1)
            if c.get("cell_type") == "code" and any(BEGIN.match(x) for x in src.splitlines())]


def strip_code(text: str, where: str, cell: int | None = None) -> str:
    """Replace solution blocks in Python source by stubs: a module, or the notebook cell number
    ``cell`` (counted from 1), which then stops with "fill in the TODO in cell N"."""
    src = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(src):
        line = src[i]
        if END.match(line):
            raise MarkerError(f"{where}:{i + 1}: END SOLUTION without BEGIN SOLUTION")
        m1 = ONE_LINE.match(line)
        if m1:
            out.append(f"{m1.group(1)}{m1.group(2)} = None  # TODO: replace None by your answer")
            i += 1
            continue
        m = BEGIN.match(line)
        if not m:
            out.append(line)
            i += 1
            continue
        indent, start = m.group(1), i
        hints = []
        i += 1
        while i < len(src) and not END.match(src[i]):
            if BEGIN.match(src[i]):
                raise MarkerError(f"{where}:{i + 1}: nested BEGIN SOLUTION")
            h = HINT.match(src[i])
            if h:
                hints.append(h.group(1))
            i += 1
        if i == len(src):
            raise MarkerError(f"{where}:{start + 1}: BEGIN SOLUTION without END SOLUTION")
        out.extend(f"{indent}# TODO: {h}" for h in hints)
        if cell is not None:
            out.append(f"{indent}raise NotImplementedError({todo_stop(cell, text)!r})")
        else:
            func = _enclosing_def(src, start, indent) or "this part"
            module = Path(where).name
            out.append(f'{indent}raise NotImplementedError("{func}: not implemented yet '
                       f'(hw12/{module})")')
        i += 1  # skip END
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def strip_notebook(text: str, where: str, blocks: dict[str, str] | None = None,
                   colab_source: str | None = None) -> str:
    """Stub a notebook: code cells through strip_code, outputs and counts cleared; Markdown marker
    lines replaced by ``blocks`` and the setup cell given ``colab_source`` (student_guide.py)."""
    nb = json.loads(text)
    for n, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "code":
            source = strip_code(source, f"{where}[cell {n + 1}]", cell=n + 1)
            if colab_source is not None:
                source = set_colab_source(source, colab_source)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":
            source = fill_markers(strip_markdown(source, f"{where}[cell {n + 1}]"), blocks or {})
        cell["source"] = source
    return notebook_dumps(nb)


def notebook_dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def strip_markdown(text: str, where: str) -> str:
    """Drop ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` blocks."""
    out, inside = [], False
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        if line.strip() == MD_BEGIN:
            if inside:
                raise MarkerError(f"{where}:{n}: nested BEGIN SOLUTION")
            inside = True
        elif line.strip() == MD_END:
            if not inside:
                raise MarkerError(f"{where}:{n}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "".join(out)


def solution_lines(text: str) -> set[str]:
    """Significant lines inside solution blocks (to prove they never reach the release)."""
    found, inside = set(), False
    for line in text.splitlines():
        s = line.strip()
        if BEGIN.match(line) or s == MD_BEGIN:
            inside = True
        elif END.match(line) or s == MD_END:
            inside = False
        elif inside and len(s) >= 25 and not HINT.match(line):
            found.add(s)
        elif ONE_LINE.match(line):
            found.add(s)
    return found


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def public_case_seeds(cases) -> dict[str, int]:
    """Each public case's grading seed by ``"<file name>::<function>"``, for the local checks."""
    from autograder.grading.testfiles import seed_key

    return {seed_key(c.file.name, c.function): c.seed for part in cases.values() for c in part
            if c.visibility == "public"}


def build_release(root: Path, out: Path, tests_root: Path, public_files: list[Path],
                  written: str | None) -> list[Path]:
    """Write the student release into ``out``; return the files written (relative paths).
    ``solutions/hw12/parts.py`` is first rendered from the config (``parts.write_parts``)."""
    from autograder.grading.config import load_config

    root, out = Path(root), Path(out)
    cfg, cases = load_config(root / "grading_config.yaml", tests_root)
    write_parts(root, cfg)  # hw12/parts.py follows the config before it is copied below
    solutions = root / "solutions"
    written_files: list[Path] = []
    keep = set()

    def emit(rel: Path, text: str):
        _write(out / rel, text)
        keep.add(rel)

    for src in sorted((solutions / "hw12").rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        rel = src.relative_to(solutions)
        if src.suffix == ".py":
            emit(rel, strip_code(src.read_text(), str(rel)))
        else:
            emit(rel, src.read_text())
    todos = {nb.name: todo_cells(nb.read_text()) for nb in sorted(solutions.glob("*.ipynb"))}
    notebook_parts = {part.notebook: (name, part) for name, part in cfg.parts.items()}
    for nb in sorted(solutions.glob("*.ipynb")):
        name, part = notebook_parts[nb.name]
        blocks = {BEFORE: before_you_start(part, todos[nb.name]), SUBMIT: submit_block(name, part)}
        emit(Path(nb.name), strip_notebook(nb.read_text(), nb.name, blocks,
                                           cfg.release and cfg.release.colab_source))
    for f in sorted(public_files):
        emit(Path("tests") / f.name, f.read_text())
    # the local checks load and seed cases with the grader's own code
    emit(Path("tests") / "otter_cases.py", (Path(__file__).parents[1] / "grading" / "testfiles.py").read_text())
    seeds = public_case_seeds(cases)
    emit(Path("tests") / "case_seeds.json", json.dumps(dict(sorted(seeds.items())), indent=1) + "\n")
    readme = {TABLE: parts_table(cfg), TODOS: notebook_todos(cfg, todos)}
    for f in sorted((Path(__file__).parent / "release_files").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            emit(f.relative_to(Path(__file__).parent / "release_files"),
                 fill_markers(f.read_text(), readme))
    if written is not None:
        emit(Path("written") / "hw12_written.md", written)
    # remove anything stale (a deleted solution file must disappear from the release)
    for path in sorted(out.rglob("*"), reverse=True):
        rel = path.relative_to(out)
        if path.is_file() and rel not in keep and "__pycache__" not in rel.parts:
            path.unlink()
        elif path.is_dir() and "__pycache__" in rel.parts:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    written_files.extend(sorted(keep))
    return written_files

"""The release generator: ``solutions/`` -> ``assignment/`` (stubs, notebooks, public tests, written).

Solution blocks (``# BEGIN SOLUTION`` ... ``# END SOLUTION``) become stubs: their ``# HINT:`` lines
survive as ``# TODO:`` lines, followed by ``raise NotImplementedError`` in modules and ``...`` in
notebook cells. ``NAME = value  # SOLUTION`` becomes ``NAME = None  # TODO``. Output is a pure
function of the inputs (sorted walks, no timestamps), so building twice changes nothing.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

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


def strip_code(text: str, where: str, notebook: bool = False) -> str:
    """Replace solution blocks in Python source (a module or one notebook cell) by stubs."""
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
        if notebook:
            out.append(f"{indent}...")
        else:
            func = _enclosing_def(src, start, indent) or "this part"
            module = Path(where).name
            out.append(f'{indent}raise NotImplementedError("{func}: not implemented yet '
                       f'(hw12/{module})")')
        i += 1  # skip END
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def strip_notebook(text: str, where: str) -> str:
    """Stub a notebook: code cells through strip_code, outputs and counts cleared."""
    nb = json.loads(text)
    for n, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "code":
            source = strip_code(source, f"{where}[cell {n}]", notebook=True)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":
            source = strip_markdown(source, f"{where}[cell {n}]")
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


def public_case_seeds(root: Path, tests_root: Path) -> dict[str, int]:
    """Each public case's grading seed by ``"<file name>::<function>"``, for the local checks."""
    from .config import load_config

    _, cases = load_config(Path(root) / "grading_config.yaml", tests_root)
    return {f"{c.file.name}::{c.function}": c.seed for part in cases.values() for c in part
            if c.visibility == "public"}


def build_release(root: Path, out: Path, tests_root: Path, public_files: list[Path],
                  written: str | None) -> list[Path]:
    """Write the student release into ``out``; return the files written (relative paths)."""
    root, out = Path(root), Path(out)
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
    for nb in sorted(solutions.glob("*.ipynb")):
        emit(Path(nb.name), strip_notebook(nb.read_text(), nb.name))
    for f in sorted(public_files):
        emit(Path("tests") / f.name, f.read_text())
    # the local checks load and seed cases with the grader's own code
    emit(Path("tests") / "otter_cases.py", (Path(__file__).parent / "testfiles.py").read_text())
    seeds = public_case_seeds(root, tests_root)
    emit(Path("tests") / "case_seeds.json", json.dumps(dict(sorted(seeds.items())), indent=1) + "\n")
    for f in sorted((Path(__file__).parent / "release_files").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            emit(f.relative_to(Path(__file__).parent / "release_files"), f.read_text())
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

"""Turn ``hw12_written.md`` into the student release or the answer key.

Format of the source file:
- answers sit between a line ``<!-- BEGIN SOLUTION -->`` and a line ``<!-- END SOLUTION -->``
  (each marker alone on its line; blocks do not nest);
- ``{{key:NAME}}`` stands for a value computed by ``solutions.derivations`` (LaTeX, used inside
  ``$...$``) or for a Q3(b) experiment result (plain text, used outside math). Placeholders may
  only appear inside answer blocks.

``render(text, values, keep_solutions=False)`` gives the release: answer blocks removed, no
placeholder left. ``render(text, values, keep_solutions=True)`` gives the key: answers kept and every
placeholder replaced; an unknown name raises ``RenderError`` naming it and its line.
"""
from __future__ import annotations

import re
from typing import Iterator, Mapping

BEGIN = "<!-- BEGIN SOLUTION -->"
END = "<!-- END SOLUTION -->"
PLACEHOLDER = re.compile(r"\{\{key:([A-Za-z_][A-Za-z0-9_]*)\}\}")
LOOSE_PLACEHOLDER = re.compile(r"\{\{\s*key\s*:")


class RenderError(ValueError):
    """The written file is malformed or refers to an unknown placeholder."""


def blocks(text: str) -> Iterator[tuple[bool, int, list[str]]]:
    """Yield (is_solution, first_line_number, lines) runs of the file; marker lines are excluded."""
    inside = False
    start, run = 1, []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker in (BEGIN, END) or (("BEGIN SOLUTION" in line or "END SOLUTION" in line)
                                      and line.lstrip().startswith("<!--")):
            if marker not in (BEGIN, END):
                raise RenderError(f"line {number}: solution marker must be alone on its line: {line.strip()!r}")
            if (marker == BEGIN) == inside:
                what = "nested BEGIN SOLUTION" if inside else "END SOLUTION without BEGIN"
                raise RenderError(f"line {number}: {what}")
            yield inside, start, run
            inside = marker == BEGIN
            start, run = number + 1, []
            continue
        run.append(line)
    if inside:
        raise RenderError(f"line {start - 1}: BEGIN SOLUTION is never closed")
    yield inside, start, run


def placeholders(text: str) -> set[str]:
    """All placeholder names used anywhere in ``text``."""
    return set(PLACEHOLDER.findall(text))


def _substitute(line: str, number: int, values: Mapping[str, str]) -> str:
    def repl(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join(sorted(values)) or "(none)"
            raise RenderError(f"line {number}: unknown placeholder {{{{key:{name}}}}}; known names: {known}")
        return str(values[name])

    out = PLACEHOLDER.sub(repl, line)
    if LOOSE_PLACEHOLDER.search(out):
        raise RenderError(f"line {number}: malformed placeholder in {line.strip()!r}")
    return out


def render(text: str, values: Mapping[str, str], keep_solutions: bool) -> str:
    """Render the written questions.

    keep_solutions=False: the student release (answer blocks and their markers removed; any
    placeholder outside an answer block is an error). keep_solutions=True: the answer key (markers
    and answers kept, placeholders replaced by ``values``).
    """
    out: list[str] = []
    for is_solution, start, lines in blocks(text):
        if is_solution and not keep_solutions:
            continue
        if is_solution:
            out.append(BEGIN + "\n")
        for offset, line in enumerate(lines):
            number = start + offset
            if not is_solution and LOOSE_PLACEHOLDER.search(line):
                raise RenderError(f"line {number}: placeholder outside a solution block would leak "
                                  f"into the student release: {line.strip()!r}")
            out.append(_substitute(line, number, values) if is_solution else line)
        if is_solution:
            out.append(END + "\n")
    result = "".join(out)
    if not keep_solutions:
        result = re.sub(r"\n{3,}", "\n\n", result)   # a removed block leaves no gap of blank lines
    return result

"""``solutions/hw12/parts.py``, rendered from ``grading_config.yaml``.

The file students get as ``hw12/parts.py`` says, per code part, the Gradescope assignment, the
notebook, the files ``python -m hw12.export`` zips and the questions ``hw12.check`` runs. ``build``
writes it from the config before it makes the release (``write_parts``), so nobody edits it by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

from autograder.build.student_guide import upload_files

WIDTH = 100  # the project's line length (pyproject.toml)
RELATIVE = Path("solutions") / "hw12" / "parts.py"

HEADER = '''"""What each code part of the homework grades and what you upload for it.

``python -m hw12.export PART`` zips the part's ``files``; ``hw12.check`` runs the public checks of
its ``questions``; the notebooks and the README say the same. ``python -m autograder build``
generates this file from the course's grading configuration (grading_config.yaml): do not edit it
by hand.
"""
from __future__ import annotations

'''

FOOTER = '''

def zip_name(part: str) -> str:
    """The file ``python -m hw12.export PART`` writes."""
    return f"hw12_{part}_submission.zip"
'''


def literal(value: str | None) -> str:
    """A Python literal for ``value``: a double-quoted string, or ``None``."""
    return "None" if value is None else json.dumps(value, ensure_ascii=False)


def wrapped_list(prefix: str, items: list[str], width: int = WIDTH) -> list[str]:
    """The lines of ``prefix[item, item, ...],``: as many items on a line as fit in ``width``,
    continuation lines aligned one column after the opening bracket."""
    tokens = [literal(item) + ("]," if n == len(items) - 1 else ",") for n, item in enumerate(items)]
    if not tokens:
        return [prefix + "],"]
    indent = " " * len(prefix)
    lines, line = [], prefix + tokens[0]
    for token in tokens[1:]:
        if len(line) + 1 + len(token) <= width:
            line += " " + token
        else:
            lines.append(line)
            line = indent + token
    return lines + [line]


def part_lines(name: str, part) -> list[str]:
    """One entry of PARTS: the Gradescope title, the notebook, the uploaded files (modules, then
    data files) and the questions with public checks, in config order."""
    questions = [q for q, spec in part.questions.items() if spec.public]
    return [f"    {literal(name)}: {{",
            f'        "assignment": {literal(part.title)},',
            f'        "notebook": {literal(part.notebook)},',
            *wrapped_list('        "files": [', upload_files(part)),
            *wrapped_list('        "questions": [', questions),
            "    },"]


def render_parts(cfg) -> str:
    """The whole text of ``hw12/parts.py`` for the grading config ``cfg`` (parts by name)."""
    body = ["PARTS = {"]
    for name in sorted(cfg.parts):
        body += part_lines(name, cfg.parts[name])
    body.append("}")
    return HEADER + "\n".join(body) + "\n" + FOOTER


def write_parts(root: Path, cfg) -> bool:
    """Write ``solutions/hw12/parts.py`` under ``root`` when its text differs from the rendering of
    ``cfg``; whether it was written."""
    path = Path(root) / RELATIVE
    text = render_parts(cfg)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True

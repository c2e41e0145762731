"""What the release tells students about each part, rendered from ``grading_config.yaml``.

One source for: the README's table of parts and its list of notebook TODO cells, each notebook's
"before you start" list and closing "submit" cell, and the Google Colab source of the notebooks'
setup cell. ``build`` writes them into the release where the sources hold a marker:

- ``<!-- BEFORE YOU START -->`` in a notebook's Markdown: the part's questions and TODO cells;
- ``<!-- SUBMIT -->`` in a notebook's Markdown: how to export and upload the part;
- ``<!-- PARTS TABLE -->`` and ``<!-- NOTEBOOK TODOS -->`` in the release README;
- ``os.environ.get("HW12_RELEASE", "...")`` in a notebook's setup cell: ``release.colab_source``.
"""
from __future__ import annotations

import re

BEFORE = "<!-- BEFORE YOU START -->"
SUBMIT = "<!-- SUBMIT -->"
TABLE = "<!-- PARTS TABLE -->"
TODOS = "<!-- NOTEBOOK TODOS -->"
COLAB_SOURCE = re.compile(r'(os\.environ\.get\("HW12_RELEASE", )"[^"\n]*"')


def upload_files(part) -> list[str]:
    """The files a part's upload holds (what ``python -m hw12.export`` zips), in config order."""
    return [f"hw12/{m}.py" for m in part.modules] + list(part.data_files)


def _code_list(items: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in items)


def todo_lines(todos: list[tuple[int, str]]) -> list[str]:
    """One Markdown bullet per TODO cell: ``(cell number, label)``."""
    return [f"- cell {n}: {label}" if label else f"- cell {n}" for n, label in todos]


def before_you_start(part, todos: list[tuple[int, str]]) -> str:
    """The notebook's "before you start" list: every graded question of the part, then its TODOs."""
    lines = [f"**Before you start**: this part grades the questions below, from your code in "
             f"{_code_list([f'hw12/{m}.py' for m in part.modules])}"
             + (f" and the {_code_list(part.data_files)} this notebook writes" if part.data_files
                else "") + " (a check cell after each question runs its public checks):", ""]
    lines += [f"- {name}: {q.title} ({q.points:g} point{'' if q.points == 1 else 's'})"
              for name, q in part.questions.items()]
    if todos:
        lines += ["", "Then fill the cells of this notebook marked `TODO` (each one stops with "
                      "\"fill in the TODO in cell N\" until you do):", ""] + todo_lines(todos)
    return "\n".join(lines)


def submit_block(name: str, part) -> str:
    """The notebook's closing Markdown: run to the end, export, upload."""
    data = part.data_files
    steps = []
    if data:
        steps.append(f"Run this notebook to the end after your last change to `hw12/`: it writes "
                     f"{_code_list(data)} next to it, with a record of the code it ran.")
    steps.append(f"In this folder run `python -m hw12.export {name}` (in a notebook cell: "
                 f"`!python -m hw12.export {name}`). It writes `hw12_{name}_submission.zip` "
                 f"holding exactly what is graded: {_code_list(upload_files(part))}.")
    steps.append(f"Upload that zip to *{part.title}* on Gradescope (on Colab, download it from "
                 "the file browser first). The notebook itself is not uploaded.")
    return "## Submit\n\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def parts_table(cfg) -> str:
    """The README's table: per part, the code to write, the notebook, and the upload."""
    rows = ["| part | write code in | then run | upload to Gradescope |",
            "| --- | --- | --- | --- |"]
    for name, part in cfg.parts.items():
        writes = f" (writes {_code_list(part.data_files)})" if part.data_files else ""
        rows.append(f"| {name.replace('_', ' ')} | {_code_list([f'hw12/{m}.py' for m in part.modules])} "
                    f"| `{part.notebook}`{writes} | `python -m hw12.export {name}` -> "
                    f"`hw12_{name}_submission.zip` ({_code_list(upload_files(part))}) to "
                    f"*{part.title}* |")
    return "\n".join(rows)


def notebook_todos(cfg, todos: dict[str, list[tuple[int, str]]]) -> str:
    """The README's list of the TODO cells of every notebook."""
    out = []
    for part in cfg.parts.values():
        cells = todos.get(part.notebook, [])
        out.append(f"`{part.notebook}`:" if cells else f"`{part.notebook}`: no TODO cells")
        out += todo_lines(cells)
        out.append("")
    return "\n".join(out).rstrip("\n")


def fill_markers(text: str, blocks: dict[str, str]) -> str:
    """Replace each line that is exactly a marker of ``blocks`` by its text."""
    return "\n".join(blocks.get(line.strip(), line) for line in text.split("\n"))


def set_colab_source(source: str, colab_source: str) -> str:
    """The setup cell with the configured place the homework is fetched from on Colab."""
    return COLAB_SOURCE.sub(lambda m: m.group(1) + '"' + colab_source + '"', source)

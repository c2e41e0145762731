"""``python -m autograder new-question PART QID --function NAME [--points N]``: every file a graded
question needs, as placeholders marked ``TODO(new-question)``.

It writes, and never overwrites:

* the function in ``solutions/hw12/<module>.py`` (docstring to fill, body between the solution
  markers, so the release's stub raises NotImplementedError);
* the question in ``grading_config.yaml`` (text inserted after the part's last question, comments
  kept);
* a public and a hidden test file (one case each: 1 point public, the rest hidden);
* an oracle slot ``<function>_oracle`` in ``autograder/grading/testlib/<part>_oracles.py``;
* a mutant template in ``tests/mutants/<part>/<question>/``;
* the check cell ``grader.check("<question>")`` in the part's notebook.

``build`` renders ``solutions/hw12/parts.py`` from the config (``parts.write_parts``), so the new
question needs no edit there. It names each placeholder that still holds its TODO
(``question_index.missing_pieces``) and fails, so a half-finished question cannot reach students.
The answer key's section is written by hand (docs/AUTHORING.md §6).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from autograder.build.question_index import SCAFFOLD_MARK as MARK


class ScaffoldError(Exception):
    """The question cannot be scaffolded (the reason, for the TA)."""


def _module_of(cfg_raw: dict, part: str) -> str:
    modules = cfg_raw["parts"][part]["modules"]
    if len(modules) != 1:
        raise ScaffoldError(f"part {part} grades {modules}; pass the module with --module")
    return modules[0]


def function_source(function: str, question: str) -> str:
    return f'''

def {function}(*args, **kwargs):
    """{MARK}: what {function} computes (question {question}).

    Args:
        {MARK}: every input with its shape, e.g. "logits: (B, L, V) floating".
    Returns:
        {MARK}: the output with its shape.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("{MARK}: the reference solution of {function}")
    # END SOLUTION
'''


def test_source(question: str, part: str, module: str, function: str, hidden: bool,
                points: int) -> str:
    visibility = "hidden" if hidden else "public"
    oracle = (f"    from autograder.grading.testlib.{part}_oracles import {function}_oracle  # noqa: F401\n\n"
              if hidden else "")
    return f'''"""{question} ({visibility} checks): {MARK}: what these cases check."""
from otter.test_files import test_case

OK_FORMAT = False
name = "{question}"
points = None


@test_case(points={points}, hidden={hidden})
def test_{function}({module}):
{oracle}    raise NotImplementedError("{MARK}: call {module}.{function}, assert, name the mistake")
'''


def oracle_source(function: str) -> str:
    return f'''

def {function}_oracle(*args, **kwargs):
    """{MARK}: an independent computation of what {function} returns."""
    raise NotImplementedError("{MARK}: {function}_oracle")
'''


def mutant_source(module: str, function: str) -> str:
    return f'''"""{MARK}: the plausible mistake this version of {function} makes."""
MODULE = "{module}"
KIND = "mutant"
HINT = "{MARK}"

# ---- code below is appended to the reference module (later definitions win) ----


def {function}(*args, **kwargs):
    raise NotImplementedError("{MARK}: a plausible wrong {function}")
'''


def config_entry(question: str, function: str, points: int) -> str:
    return (f"      {question}:\n"
            f"        title: \"{MARK}: {function}\"\n"
            f"        points: {points}\n"
            f"        public: public/{question}.py\n"
            f"        hidden: hidden/{question}.py\n")


def insert_config(text: str, part: str, entry: str) -> str:
    """``text`` (grading_config.yaml) with ``entry`` after the last question of ``part``: before
    the next line indented at most as deep as the part's name, or at the end."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^(\s*){part}:\s*$", line)), None)
    if start is None:
        raise ScaffoldError(f"part {part} not found in grading_config.yaml")
    depth = len(lines[start]) - len(lines[start].lstrip())
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip()
                and len(lines[i]) - len(lines[i].lstrip()) <= depth), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:end] + [entry] + lines[end:])


def add_check_cell(notebook: Path, question: str, function: str) -> None:
    """A code cell ``grader.check("<question>")`` before the notebook's ``grader.check_all()``,
    with a TODO to move it after the cell that uses ``function`` (and a cell id, as nbformat 4.5
    wants)."""
    nb = json.loads(notebook.read_text())
    cell = {"cell_type": "code", "execution_count": None, "id": f"check-{question}"[:64],
            "metadata": {}, "outputs": [],
            "source": [f"# {MARK}: move this cell after the cell that uses {function}, then delete "
                       "this line\n", f'grader.check("{question}")']}
    at = next((i for i, c in enumerate(nb["cells"]) if "check_all" in "".join(c["source"])),
              len(nb["cells"]))
    nb["cells"].insert(at, cell)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def new_question(root: Path, part: str, question: str, function: str, points: int = 2,
                 module: str | None = None) -> list[Path]:
    """Write the placeholders of a new question; the files written or changed."""
    root = Path(root)
    config = root / "grading_config.yaml"
    raw = yaml.safe_load(config.read_text())
    if part not in raw["parts"]:
        raise ScaffoldError(f"unknown part {part!r}; parts: {', '.join(raw['parts'])}")
    if question in raw["parts"][part]["questions"]:
        raise ScaffoldError(f"{part} already has a question {question}")
    if not re.fullmatch(r"q\d+\w*", question) or not function.isidentifier():
        raise ScaffoldError("the question id looks like q4_entropy, the function like entropy_bonus")
    if points < 2:
        raise ScaffoldError("a question needs at least 2 points: one public case, one hidden")
    module = module or _module_of(raw, part)
    solution = root / "solutions" / "hw12" / f"{module}.py"
    tests = root / "autograder" / "tests" / part
    new_files = {tests / "public" / f"{question}.py": test_source(question, part, module, function,
                                                                 False, 1),
                 tests / "hidden" / f"{question}.py": test_source(question, part, module, function,
                                                                 True, points - 1),
                 root / "tests" / "mutants" / part / question / f"{function}_wrong.py":
                     mutant_source(module, function)}
    existing = [p for p in new_files if p.exists()]
    if existing or re.search(rf"^def {function}\(", solution.read_text(), re.M):
        raise ScaffoldError(f"already there: {[str(p) for p in existing] or [f'{function} in {solution}']}")
    for path, text in new_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    solution.write_text(solution.read_text() + function_source(function, question))
    oracles = root / "autograder" / "grading" / "testlib" / f"{part}_oracles.py"
    oracles.write_text(oracles.read_text() + oracle_source(function))
    config.write_text(insert_config(config.read_text(), part, config_entry(question, function,
                                                                            points)))
    notebook = root / "solutions" / raw["parts"][part]["notebook"]
    add_check_cell(notebook, question, function)
    return [*new_files, solution, oracles, config, notebook]

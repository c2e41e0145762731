"""``hw12/parts.py`` is rendered from grading_config.yaml (``autograder/build/parts.py``): the
committed file is the rendering of the config, and a change to the config changes it."""
from __future__ import annotations

import ast
import copy

import pytest
import yaml
from conftest import REPO

from autograder.build.parts import RELATIVE, render_parts, wrapped_list, write_parts
from autograder.build.student_guide import upload_files
from autograder.grading.config import GradingConfig, load_config


def _raw() -> dict:
    return yaml.safe_load((REPO / "grading_config.yaml").read_text())


def _parts_of(text: str) -> dict:
    """PARTS of a rendered parts.py, read as data."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "PARTS":
            return ast.literal_eval(node.value)
    raise AssertionError("no PARTS in the rendered file")


def _expected(cfg) -> dict:
    """What PARTS must say for ``cfg``: per part its Gradescope title, notebook, uploaded files
    and the questions with public checks, in config order."""
    return {name: {"assignment": part.title, "notebook": part.notebook,
                   "files": upload_files(part),
                   "questions": [q for q, spec in part.questions.items() if spec.public]}
            for name, part in cfg.parts.items()}


def test_committed_parts_py_is_the_rendering_of_the_config():
    """solutions/hw12/parts.py is what `python -m autograder build` renders from the config."""
    cfg, _ = load_config(REPO / "grading_config.yaml", REPO / "autograder" / "tests")
    committed = (REPO / RELATIVE).read_text()
    assert committed == render_parts(cfg), "run `python -m autograder build` and commit"
    assert _parts_of(committed) == _expected(cfg)
    assert list(_parts_of(committed)) == sorted(cfg.parts)


def test_a_changed_config_changes_the_rendered_file(tmp_path):
    """A question, a data file, a title and a part added to the config all reach parts.py (a
    hidden-only question does not: ``hw12.check`` runs public checks); long lists wrap within 100
    characters and the file stays valid Python."""
    raw = _raw()
    before = render_parts(GradingConfig.model_validate(raw))
    changed = copy.deepcopy(raw)
    rlhf = changed["parts"]["rlhf"]
    rlhf["questions"]["q4_entropy"] = {"title": "4 entropy bonus", "points": 2,
                                       "public": "public/q4_entropy.py",
                                       "hidden": "hidden/q4_entropy.py"}
    rlhf["questions"]["q4_secret"] = {"title": "4 hidden only", "points": 1,
                                      "hidden": "hidden/q4_secret.py"}
    rlhf["data_files"] = [*rlhf.get("data_files", []), "entropy_log.json"]
    changed["parts"]["early_exit"]["title"] = "Homework 12 (Code) (Early exit, late)"
    changed["parts"]["attention"] = {
        "title": "Homework 12 (Code) (Attention)", "modules": ["attention"],
        "notebook": "hw12_attention.ipynb",
        "questions": {f"q5_{n:02d}": {"title": f"5 step {n}", "points": 1,
                                     "public": f"public/q5_{n:02d}.py"} for n in range(20)}}
    cfg = GradingConfig.model_validate(changed)
    text = render_parts(cfg)

    assert text != before
    parts = _parts_of(text)
    assert parts == _expected(cfg)
    assert parts["rlhf"]["questions"][-1] == "q4_entropy"
    assert "q4_secret" not in text
    assert parts["rlhf"]["files"] == ["hw12/rlhf.py", "submission_log.json", "entropy_log.json"]
    assert parts["early_exit"]["assignment"] == "Homework 12 (Code) (Early exit, late)"
    assert list(parts) == ["attention", "diffusion", "early_exit", "rlhf"]
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.count('"questions": [') == 4
    compile(text, "parts.py", "exec")

    config = tmp_path / "grading_config.yaml"  # the same edit, through a YAML file
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    assert render_parts(GradingConfig.model_validate(yaml.safe_load(config.read_text()))) == text


def test_write_parts_writes_only_a_changed_text(tmp_path):
    """The build's writer creates the file, leaves an equal one alone, and rewrites a stale one."""
    cfg = GradingConfig.model_validate(_raw())
    path = tmp_path / RELATIVE
    assert write_parts(tmp_path, cfg) is True
    assert path.read_text() == render_parts(cfg)
    assert write_parts(tmp_path, cfg) is False
    path.write_text(path.read_text().replace('"q1a", ', ""))
    assert write_parts(tmp_path, cfg) is True
    assert path.read_text() == render_parts(cfg)


@pytest.mark.parametrize("items, lines", [
    ([], ['    "x": [],']),
    (["a"], ['    "x": ["a"],']),
    (["a" * 40, "b" * 40, "c"], ['    "x": ["' + "a" * 40 + '", "' + "b" * 40 + '",',
                                 '          "c"],']),
])
def test_wrapped_list_fills_lines_and_aligns_after_the_bracket(items, lines):
    assert wrapped_list('    "x": [', items) == lines

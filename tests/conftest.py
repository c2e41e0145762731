"""Shared fixtures: a throwaway grading root with its own config, and graded-upload helpers."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_root(tmp: Path, edit=None) -> Path:
    """A grading root in ``tmp``: links to the repo's code and release, a config edited by ``edit``."""
    root = tmp / "root"
    root.mkdir()
    for name in ("autograder", "assignment", "solutions"):
        (root / name).symlink_to(REPO / name)
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    if edit is not None:
        edit(cfg)
    (root / "grading_config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def variant_upload(tmp: Path, module: str, code: str, name: str = "sub") -> Path:
    """The reference solutions with ``code`` appended to hw12/<module>.py."""
    dest = tmp / name
    shutil.copytree(REPO / "solutions" / "hw12", dest / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = dest / "hw12" / f"{module}.py"
    target.write_text(target.read_text() + "\n" + code)
    return dest


def grade(root: Path, part: str, upload: Path, questions=None, **opts):
    """Grade ``upload`` with the grading root ``root``; return results.json as a dict."""
    from autograder.config import load_config
    from autograder.supervisor import GradeOptions, Layout, grade_part

    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)
    selected = [c for c in cases[part] if questions is None or c.question in questions]
    return grade_part(layout, cfg, part, selected, upload, GradeOptions(**opts))


def question_scores(results: dict) -> dict[str, tuple[float, float]]:
    out: dict[str, list[float]] = {}
    for t in results["tests"]:
        acc = out.setdefault(t["tags"][0], [0.0, 0.0])
        acc[0] += t["score"]
        acc[1] += t["max_score"]
    return {q: (a, b) for q, (a, b) in out.items()}


def only_questions(cfg: dict, part: str, keep: set[str]) -> None:
    """Keep only the questions ``keep`` of ``part`` (and only that part) in a raw config."""
    cfg["parts"] = {part: cfg["parts"][part]}
    qs = cfg["parts"][part]["questions"]
    cfg["parts"][part]["questions"] = {q: v for q, v in qs.items() if q in keep}


@pytest.fixture
def fast_root(tmp_path):
    """A grading root for the diffusion part with short limits, so hostile code is stopped quickly."""
    def edit(cfg):
        cfg["defaults"]["time_limit_s"] = 4
        cfg["defaults"]["import_timeout_s"] = 4
        only_questions(cfg, "diffusion", {"q1a", "q1b", "q1d", "q2a"})
    return make_root(tmp_path, edit)

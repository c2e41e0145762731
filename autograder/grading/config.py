"""Typed loading of ``grading_config.yaml``: parts -> questions -> points, tests, tier, limits, seeds.

Mistakes are refused with the file's line: an unknown key, a wrong type, a test file that does not
exist, or question points that differ from the sum of the test cases' points. Test files are read
with ``ast`` (never executed) so that the supervising process stays free of torch.
"""
from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autograder.grading.testfiles import case_id, case_seed


class ConfigError(ValueError):
    """A mistake in grading_config.yaml, with the line it is on."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    time_limit_s: float = Field(20.0, gt=0, description="wall-clock limit of one test case")
    seed: int = Field(182, description="base seed; each test case gets seed + a hash of its id")
    import_timeout_s: float = Field(30.0, gt=0, description="limit for importing a student module")
    start_timeout_s: float = Field(120.0, gt=0, description="limit for starting a student process")


class Question(_Strict):
    title: str = Field(description="what the gradebook shows")
    points: float = Field(gt=0, description="sum of the points of the question's test cases")
    public: str | None = Field(None, description="public test file, relative to the part's tests")
    hidden: str | None = Field(None, description="hidden test file, relative to the part's tests")
    tier: Literal["cpu", "gpu"] = Field("cpu", description="gpu: runs only where CUDA exists")
    time_limit_s: float | None = Field(None, gt=0, description="per-case limit (default: defaults)")
    seed: int | None = Field(None, description="base seed of this question (default: defaults)")


class Part(_Strict):
    title: str = Field(description="Gradescope assignment name")
    modules: list[str] = Field(description="hw12 modules the students submit for this part")
    data_files: list[str] = Field([], description="other submitted files (answers, logs)")
    notebook: str | None = Field(None, description="the part's notebook in the release")
    budget_s: float = Field(270.0, gt=0, description="wall-clock budget for grading the part")
    requirements: list[str] = Field([], description="extra pip requirements of the grading image")
    questions: dict[str, Question]

    @field_validator("questions")
    @classmethod
    def _some_questions(cls, v):
        if not v:
            raise ValueError("a part needs at least one question")
        return v


class Gradescope(_Strict):
    python_version: str = Field("3.13", description="Python of otter's grading image")
    torch_version: str = Field("2.14.1", description="CPU-only torch installed in the image")
    torch_index_url: str = Field(description="pip index with CPU-only torch wheels")
    sandbox_user: str = Field("hw12student", description="unprivileged user for student code")
    hidden_visibility: Literal["hidden", "after_due_date", "after_published"] = "after_published"


class Release(_Strict):
    colab_source: str = Field(pattern=r'^[^"\\\n]+$', description=(
        "where the notebooks' setup cell fetches the homework on Google Colab: a zip of "
        "assignment/ (https:// or file:// URL, or a path) or a folder, e.g. on Google Drive"))


class GradingConfig(_Strict):
    version: Literal[1]
    defaults: Defaults = Defaults()
    gradescope: Gradescope
    release: Release | None = None
    parts: dict[str, Part]


@dataclass(frozen=True)
class Case:
    """One test case as the grader schedules it."""

    id: str  # "<question>/<public|hidden>/<function>"
    part: str
    question: str
    visibility: Literal["public", "hidden"]
    file: Path
    function: str
    points: float
    tier: str
    time_limit_s: float
    seed: int
    params: tuple[str, ...] = ()  # the test function's parameters (module names, submission, ...)


def _line_map(text: str) -> dict[tuple, int]:
    """Map each key path (tuple of keys) of the YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                lines[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _nearest_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def scan_test_file(path: Path) -> list[tuple[str, float | None, bool, tuple[str, ...]]]:
    """(name, points, hidden, parameters) of every ``@test_case`` function, read with ``ast``;
    points None where the case states none (it gets a share of its question's, ``load_config``)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "test_case":
                kw = {k.arg: ast.literal_eval(k.value) for k in dec.keywords}
                points = None if kw.get("points") is None else float(kw["points"])
                params = tuple(a.arg for a in node.args.args)
                found.append((node.name, points, bool(kw.get("hidden", False)), params))
    return found


def split_points(cases: list, points: float, where: str) -> list:
    """``cases`` with the question's ``points`` that no case states split equally among the cases
    that state none; ConfigError when the stated points exceed the question's, or (all stated)
    differ from them."""
    stated = sum(c.points for c in cases if c.points is not None)
    unstated = [c for c in cases if c.points is None]
    if not unstated:
        if abs(stated - points) > 1e-9:
            raise ConfigError(f"{where} is worth {points:g} points but its test cases add up to "
                              f"{stated:g}")
        return cases
    share = (points - stated) / len(unstated)
    if share <= 1e-9:
        raise ConfigError(f"{where} is worth {points:g} points; its cases state {stated:g}, which "
                          f"leaves nothing for the {len(unstated)} that state none")
    return [c if c.points is not None else dataclasses.replace(c, points=share) for c in cases]


def load_config(path: Path, tests_root: Path) -> tuple[GradingConfig, dict[str, list[Case]]]:
    """Parse and check the config; return it with the scheduled cases of every part."""
    path = Path(path)
    text = path.read_text()
    try:
        lines = _line_map(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        cfg = GradingConfig.model_validate(raw)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = tuple(err["loc"])
            line = _nearest_line(lines, loc)
            where = ".".join(str(x) for x in loc)
            msgs.append(f"{path}:{line or '?'}: {where}: {err['msg']}")
        raise ConfigError("\n".join(msgs)) from None
    cases: dict[str, list[Case]] = {}
    for part_name, part in cfg.parts.items():
        part_cases = []
        for qname, q in part.questions.items():
            qline = lines.get(("parts", part_name, "questions", qname))
            q_cases: list[Case] = []
            if not (q.public or q.hidden):
                raise ConfigError(f"{path}:{qline}: question {qname} names no test file")
            for visibility in ("public", "hidden"):
                rel = getattr(q, visibility)
                if rel is None:
                    continue
                file = tests_root / part_name / rel
                fline = lines.get(("parts", part_name, "questions", qname, visibility), qline)
                if not file.is_file():
                    raise ConfigError(f"{path}:{fline}: test file {file} does not exist")
                scanned = scan_test_file(file)
                if not scanned:
                    raise ConfigError(f"{path}:{fline}: {file} defines no @test_case")
                for fn, pts, hidden, params in scanned:
                    if hidden != (visibility == "hidden"):
                        raise ConfigError(f"{path}:{fline}: {file}: {fn} has hidden={hidden} but "
                                          f"the file is listed as {visibility}")
                    cid = case_id(qname, visibility, fn)
                    q_cases.append(Case(
                        id=cid, part=part_name, question=qname, visibility=visibility, file=file,
                        function=fn, points=pts, tier=q.tier, params=params,
                        time_limit_s=q.time_limit_s or cfg.defaults.time_limit_s,
                        seed=case_seed(q.seed if q.seed is not None else cfg.defaults.seed, cid)))
            part_cases += split_points(q_cases, q.points, f"{path}:{qline}: question {qname}")
        cases[part_name] = part_cases
    return cfg, cases

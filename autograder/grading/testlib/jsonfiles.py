"""The JSON files a notebook writes and a student uploads: their schemas and generic checks.

Each uploaded file has one JSON Schema (draft 2020-12), a given file of the ``hw12`` package
(``rlhf_log_schema.json``, ``early_exit_answers_schema.json``) that students read in their release
and the grader reads here. The grader reads the release's copy, ``assignment/hw12``: it is in the
repository (generated from ``solutions/hw12`` by ``python -m autograder build``) and in every
Gradescope zip (``files/assignment/hw12``).
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List

from autograder import ROOT

SCHEMA_DIR = ROOT / "assignment" / "hw12"

__all__ = ["SCHEMA_DIR", "load_schema", "schema_problems", "non_finite_paths"]


def load_schema(name: str) -> Dict[str, Any]:
    """The JSON Schema ``hw12/<name>`` of the release."""
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def _where(path) -> str:
    """A JSON path as a student reads it: ``sweep.accuracy[3]``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_problems(obj: Any, schema: Dict[str, Any]) -> List[str]:
    """Every way ``obj`` breaks ``schema``, each as a sentence a student can act on: the field
    (dotted path) and what was expected (the schema's ``description`` of that field); [] if none."""
    from jsonschema import Draft202012Validator

    problems = []
    errors = Draft202012Validator(schema).iter_errors(obj)
    for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        where = _where(e.absolute_path)
        if e.validator == "required":
            missing = [k for k in e.validator_value if k not in e.instance]
            problems += [f"{_where([*e.absolute_path, k])} is missing" for k in missing]
        elif not where:
            problems.append(f"the file must hold {e.schema.get('description') or e.message}"
                            if e.validator != "type" else "the file must hold one JSON object")
        else:
            expected = e.schema.get("description") or e.message
            problems.append(f"{where} = {_short(e.instance)} must be {expected}")
    return problems


def non_finite_paths(x: Any, where: str = "") -> List[str]:
    """JSON paths of NaN or infinite numbers."""
    if isinstance(x, float) and not math.isfinite(x):
        return [where or "/"]
    if isinstance(x, dict):
        return [p for k, v in x.items() for p in non_finite_paths(v, f"{where}/{k}")]
    if isinstance(x, list):
        return [p for i, v in enumerate(x) for p in non_finite_paths(v, f"{where}/{i}")]
    return []

"""The mutant bank, ``tests/mutants/<part>/<question>/<name>.py``: one parser for every reader.

A file is one wrong (``KIND = "mutant"``) or different-but-correct (``KIND = "alternative"``)
implementation of a question's function. The folder names the part and the question; the file
holds a docstring (what is wrong, or what differs), a header and, after the marker line, code
that is appended to a copy of the reference module (later definitions win)::

    \"\"\"survival_prob uses (1-δ)^t: the flip probability instead of the replacement probability.\"\"\"
    MODULE = "binary_diffusion"      # the hw12 module it patches
    KIND = "mutant"                  # or "alternative"
    HINT = "2*delta"                 # mutants: words the first failing message must contain

    # ---- code below is appended to the reference module (later definitions win) ----
    def survival_prob(t, delta):
        return (1 - delta) ** t

A mutant must lose points on its folder's question and on no other (each question is graded on its
own: a test of another question that calls the changed function runs with a correct one in its
place), and the first failing message of its question must contain ``HINT``: the words that name
its bug, so that the message points the student at it. An alternative must keep full marks.
``tests/mutants/README.md`` says where a file goes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

MARKER = "# ---- code below is appended to the reference module (later definitions win) ----"
KINDS = ("mutant", "alternative")
HEADER = {"MODULE": str, "KIND": str, "HINT": str}


class BankError(ValueError):
    """A file of the mutant bank that does not follow the format."""


@dataclass(frozen=True)
class Variant:
    """One file of the mutant bank."""

    path: Path
    part: str
    question: str        # the folder: the question whose function it changes
    module: str          # the hw12 module it patches
    kind: str            # "mutant" | "alternative"
    hint: str            # mutants: words the first failing message of its question must contain
    description: str     # the docstring
    code: str            # appended to the reference module

    @property
    def name(self) -> str:
        return f"{self.part}/{self.question}/{self.path.stem}"

    def applied_to(self, reference: str) -> str:
        """The source of the patched module: ``reference`` with this variant's code appended."""
        return reference + "\n\n# ---- variant under test ----\n" + self.code


def _header(head: str, path: Path) -> dict:
    tree = ast.parse(head, str(path))
    if not (tree.body and isinstance(tree.body[0], ast.Expr)
            and isinstance(tree.body[0].value, ast.Constant)
            and isinstance(tree.body[0].value.value, str)):
        raise BankError(f"{path}: start with a docstring saying what is wrong (or what differs)")
    meta = {"__doc__": tree.body[0].value.value.strip()}
    for node in tree.body[1:]:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise BankError(f"{path}:{node.lineno}: above the marker line only "
                            f"{', '.join(HEADER)} = <literal> may stand")
        key = node.targets[0].id
        if key not in HEADER:
            hint = {"LOSES": " (the folder names the question)",
                    "ALSO_LOSES": " (a mutant loses points on its folder's question and on no "
                                  "other)"}.get(key, "")
            raise BankError(f"{path}:{node.lineno}: unknown header {key}{hint}")
        value = ast.literal_eval(node.value)
        if not isinstance(value, HEADER[key]):
            raise BankError(f"{path}:{node.lineno}: {key} must be a {HEADER[key].__name__}")
        meta[key] = value
    return meta


def load_variant(path: Path) -> Variant:
    """Parse one bank file; its part and question come from ``<part>/<question>/<name>.py``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    head, sep, code = text.partition("\n" + MARKER + "\n")
    if not sep:
        raise BankError(f"{path}: no marker line {MARKER!r}")
    meta = _header(head, path)
    kind = meta.get("KIND")
    if kind not in KINDS:
        raise BankError(f"{path}: KIND must be one of {KINDS}")
    if "MODULE" not in meta:
        raise BankError(f"{path}: MODULE (the hw12 module it patches) is missing")
    if kind == "alternative" and "HINT" in meta:
        raise BankError(f"{path}: an alternative loses nothing; drop HINT")
    if kind == "mutant" and not meta.get("HINT", "").strip():
        raise BankError(f"{path}: HINT (words the first failing message must contain) is missing")
    return Variant(path=path, part=path.parent.parent.name, question=path.parent.name,
                   module=meta["MODULE"], kind=kind, hint=meta.get("HINT", ""),
                   description=meta["__doc__"], code=code)


def default_bank(repo: Path) -> Path:
    """The project's bank: ``tests/mutants`` of the repository."""
    return Path(repo) / "tests" / "mutants"


def bank_files(bank: Path, part: str) -> list[Path]:
    """The files of one part in the bank folder ``bank``, sorted."""
    return sorted((Path(bank) / part).glob("*/*.py"))


def load_bank(bank: Path, parts, questions: dict[str, set[str]] | None = None) -> list[Variant]:
    """Every variant of ``parts`` in the bank folder ``bank`` (see :func:`default_bank`). With
    ``questions`` ({part: its question ids}), a folder that is not a question of the part is
    refused."""
    bank_list = [load_variant(p) for part in parts for p in bank_files(bank, part)]
    for v in bank_list if questions is not None else ():
        if v.question not in questions[v.part]:
            raise BankError(f"{v.path}: {v.question} is not a question of part {v.part} "
                            "(grading_config.yaml)")
    return bank_list

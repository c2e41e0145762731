"""The mutant bank's format and its one parser (autograder/mutants.py); grading each file is the job
of `python -m autograder validate` and of the parts' in-process tests."""
from __future__ import annotations

import pytest

from autograder.config import load_config
from autograder.mutants import MARKER, BankError, default_bank, load_bank, load_variant
from conftest import REPO

BODY = f"\n{MARKER}\ndef survival_prob(t, delta):\n    return (1 - delta) ** t\n"


def _write(tmp_path, head: str, question: str = "q1a"):
    path = tmp_path / "bank" / "diffusion" / question / "bd_example.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + BODY)
    return path


def test_folder_names_part_and_question(tmp_path):
    v = load_variant(_write(tmp_path, '"""Uses (1-δ)^t."""\nMODULE = "binary_diffusion"\n'
                                      'KIND = "mutant"\nALSO_LOSES = ["q1b"]\n'
                                      'HINT = "2*delta"\n'))
    assert (v.part, v.question, v.module, v.kind) == ("diffusion", "q1a", "binary_diffusion", "mutant")
    assert v.loses == ("q1a", "q1b") and v.description == "Uses (1-δ)^t." and v.hint == "2*delta"
    assert v.code.startswith("def survival_prob") and v.name == "diffusion/q1a/bd_example"
    assert v.applied_to("X = 1\n").endswith(v.code) and v.applied_to("X = 1\n").startswith("X = 1\n")


@pytest.mark.parametrize("head,words", [
    ('MODULE = "binary_diffusion"\nKIND = "mutant"\n', "docstring"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\nLOSES = ["q1a"]\n', "ALSO_LOSES"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "wrong"\n', "KIND"),
    ('"""d."""\nKIND = "mutant"\n', "MODULE"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "alternative"\nALSO_LOSES = ["q1b"]\n',
     "alternative"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\nHINT = "d"\nimport os\n',
     "above the marker"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\n', "HINT"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "alternative"\nHINT = "d"\n', "alternative"),
])
def test_malformed_files_are_refused_with_a_reason(tmp_path, head, words):
    with pytest.raises(BankError, match=words):
        load_variant(_write(tmp_path, head))


def test_unknown_question_folder_is_refused(tmp_path):
    _write(tmp_path, '"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\nHINT = "d"\n',
           question="q9z")
    with pytest.raises(BankError, match="q9z"):
        load_bank(tmp_path / "bank", ["diffusion"], {"diffusion": {"q1a"}})


def test_the_project_bank_loads_and_every_question_function_has_mutants():
    cfg, cases = load_config(REPO / "grading_config.yaml", REPO / "autograder" / "tests")
    questions = {p: {c.question for c in cases[p]} for p in cfg.parts}
    bank = load_bank(default_bank(REPO), list(cfg.parts), questions)
    assert len({v.name for v in bank}) == len(bank)
    assert len({(v.part, v.path.stem) for v in bank}) == len(bank), "names repeat within a part"
    with_mutants = {(v.part, v.question) for v in bank if v.kind == "mutant"}
    function_questions = {(c.part, c.question) for p in cfg.parts for c in cases[p]
                          if c.tier == "cpu" and "submission" not in c.params}
    assert function_questions <= with_mutants, sorted(function_questions - with_mutants)

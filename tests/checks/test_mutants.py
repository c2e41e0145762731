"""The mutant bank's format and its one parser (autograder/checks/mutants.py), validate's verdict on a
mutant, and the diffusion bank graded in-process: each question is graded on its own, so a mutant
loses points on its question and on no other. (`python -m autograder validate` grades every part's
bank through the sandbox; tests/solutions/test_early_exit_extra.py and tests/solutions/test_rlhf_extra.py grade theirs
in-process.)"""
from __future__ import annotations

import inprocess
import pytest
from conftest import REPO

from autograder.checks.mutants import (
    MARKER,
    BankError,
    bank_files,
    default_bank,
    load_bank,
    load_variant,
)
from autograder.checks.validate import CHARGED_TWICE, mutant_problem
from autograder.grading.config import load_config

BODY = f"\n{MARKER}\ndef survival_prob(t, delta):\n    return (1 - delta) ** t\n"


def _write(tmp_path, head: str, question: str = "q1a"):
    path = tmp_path / "bank" / "diffusion" / question / "bd_example.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + BODY)
    return path


def test_folder_names_part_and_question(tmp_path):
    v = load_variant(_write(tmp_path, '"""Uses (1-δ)^t."""\nMODULE = "binary_diffusion"\n'
                                      'KIND = "mutant"\nHINT = "2*delta"\n'))
    assert (v.part, v.question, v.module, v.kind) == ("diffusion", "q1a", "binary_diffusion", "mutant")
    assert v.description == "Uses (1-δ)^t." and v.hint == "2*delta"
    assert v.code.startswith("def survival_prob") and v.name == "diffusion/q1a/bd_example"
    assert v.applied_to("X = 1\n").endswith(v.code) and v.applied_to("X = 1\n").startswith("X = 1\n")


@pytest.mark.parametrize("head,words", [
    ('MODULE = "binary_diffusion"\nKIND = "mutant"\n', "docstring"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\nLOSES = ["q1a"]\n', "folder names"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "mutant"\nALSO_LOSES = ["q1b"]\n', "no other"),
    ('"""d."""\nMODULE = "binary_diffusion"\nKIND = "wrong"\n', "KIND"),
    ('"""d."""\nKIND = "mutant"\n', "MODULE"),
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


def test_a_mutant_must_lose_its_own_question_and_no_other():
    """validate's verdict: losing elsewhere is reported as charged twice, with the points."""
    assert mutant_problem("q1d", {"q1d": (1.5, 3.5), "q1e": (4.0, 4.0)}) is None
    assert "kept full marks on its question q1d" in mutant_problem("q1d", {"q1d": (3.5, 3.5)})
    twice = mutant_problem("q1d", {"q1d": (0.0, 3.5), "q1e": (1.25, 4.0), "q2a": (4.0, 4.0)})
    assert twice == f"{CHARGED_TWICE}: also loses q1e (2.75 of 4 points)"


# The slowest variant (it simulates every step, about 90 s in-process) is graded through the
# sandbox by `validate` in make test as well; its in-process run is in make test-extended.
SLOW = {"bd_sample_simulates_steps"}
DIFFUSION = [pytest.param(p, id=p.stem, marks=[pytest.mark.extended] if p.stem in SLOW else [])
             for p in bank_files(default_bank(REPO), "diffusion")]


@pytest.mark.parametrize("path", DIFFUSION)
def test_diffusion_variant_is_graded_on_its_own_question(path):
    problem = inprocess.variant_problem("diffusion", path, lambda source: inprocess.Submission({}))
    assert problem is None, f"{path.stem}: {problem}"


def test_validate_grades_only_what_is_asked_and_checks_hints(tmp_path, capsys):
    """``validate --variant`` grades one bank file; ``-v`` says what it lost, which cases caught it
    and whether its hint fired; a hint that does not fire fails validate."""
    from autograder.checks.validate import validate
    from autograder.grading.sandbox.confinement import Policy

    src = REPO / "tests" / "mutants" / "rlhf" / "q4_rm_loss" / "rm_swapped.py"
    for hint, status in (("chosen and rejected swapped", 0), ("a hint no message says", 1)):
        bank = tmp_path / hint.replace(" ", "_") / "rlhf" / "q4_rm_loss"
        bank.mkdir(parents=True)
        text = src.read_text().replace('HINT = "chosen and rejected swapped"', f'HINT = "{hint}"')
        (bank / "rm_swapped.py").write_text(text)
        code = validate(REPO, jobs=1, bank=bank.parent.parent, policy=Policy(unconfined=True),
                        variants=["q4_rm_loss/rm_swapped"], details=True)
        out = capsys.readouterr().out
        assert code == status, out
        assert "validate: 1 passed" in out if status == 0 else "is not in the first failing" in out
        assert "loses: q4_rm_loss 4 of 4" in out and "caught by: " in out, out
        assert ("fired" if status == 0 else "did not fire") in out, out
        assert "reference" not in out and "stubs" not in out, out

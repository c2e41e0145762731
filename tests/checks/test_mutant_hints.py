"""Each hint fires for the bug it names: the first failing message of every mutant's question (in the
grader's order, public checks first, as the grader words it) contains the mutant's ``HINT``.

Graded in-process (tests/inprocess.py), each case under a multiple of the grader's time limit (this
process shares its cores; a mutant that never finishes is stopped as the grader stops it). The
whole bank is an extended check; the mutants that this check was written for run in the default one.
"""
from __future__ import annotations

import inprocess
import pytest

from autograder.checks.mutants import default_bank, load_bank
from autograder.grading.runner import case_message

MUTANTS = [v for v in load_bank(default_bank(inprocess.ROOT), ["diffusion", "early_exit", "rlhf"])
           if v.kind == "mutant"]
TIME_SCALE = 3  # times the grader's limit of a case
FAST = {"diffusion/q2b/gd_posterior_variance_beta", "diffusion/q1b/bd_sample_one_coin_for_everything",
        "diffusion/q1b/bd_sample_fair_coin_per_image", "rlhf/q4_logprobs/logprobs_no_mask",
        "early_exit/q3b_macs/macs_whole_batch"}


def first_message(variant) -> str | None:
    """The grader's message for the first failing case of the variant's own question (None when
    every case passes)."""
    source = variant.applied_to(inprocess.reference_source(variant.module))
    module = inprocess.module_from_source(source, variant.module)
    for case, exc in inprocess.outcomes(variant.part, variant.module, module,
                                        inprocess.Submission({}), variant.question,
                                        time_scale=TIME_SCALE):
        if exc is not None:
            return case_message(case, exc)
    return None


def test_the_fast_sample_is_in_the_bank():
    assert FAST <= {v.name for v in MUTANTS}


@pytest.mark.parametrize("variant", [
    pytest.param(v, id=v.name, marks=() if v.name in FAST else pytest.mark.extended)
    for v in MUTANTS])
def test_first_failing_message_names_the_bug(variant):
    message = first_message(variant)
    assert message is not None, f"{variant.name} passes every case of {variant.question}"
    assert variant.hint in message, (
        f"{variant.name} ({variant.description}) should be told {variant.hint!r}; its first "
        f"failing message is:\n{message}")

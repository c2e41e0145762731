"""The sympy derivations behind the written key, the key's placeholders, and the release renderer.

Run: .venv/bin/python -m pytest tests/test_derivations.py -q
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import sympy as sp
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from solutions import derivations  # noqa: E402
from solutions.derivations import (  # noqa: E402
    EXPERIMENT_KEYS, experiment_values, key_values, q1_binary_diffusion as q1,
    q2_gaussian_diffusion as q2, q3_early_exit as q3, q4_policy_gradient as q4, verify_all)
from solutions.derivations._common import assert_identity  # noqa: E402
from solutions.derivations.render import BEGIN, END, RenderError, blocks, placeholders, render  # noqa: E402

WRITTEN = ROOT / "solutions" / "written" / "hw12_written.md"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def text() -> str:
    return WRITTEN.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def values() -> dict:
    return key_values()


@pytest.fixture(scope="module")
def all_values(values) -> dict:
    fake = {name: 0.5 for name in EXPERIMENT_KEYS}
    return {**values, **experiment_values(fake)}


def _solution_blocks(text: str) -> list[str]:
    return ["".join(lines) for is_solution, _, lines in blocks(text) if is_solution]


def _answer_to(text: str, label: str) -> str:
    """The solution block that follows the first line starting with ``label``."""
    start = text.index(label)
    begin = text.index(BEGIN, start)
    return text[begin:text.index(END, begin)]


def _latex_number(value: str) -> float:
    m = re.fullmatch(r"\s*(-?[0-9.]+)(?:\s*\\times\s*10\^\{(-?\d+)\})?\s*", value)
    assert m, f"not a formatted number: {value!r}"
    return float(m.group(1)) * (10.0 ** int(m.group(2)) if m.group(2) else 1.0)


# ------------------------------------------------------------------------------------------------
# proofs and key values
# ------------------------------------------------------------------------------------------------
def test_verify_all_passes():
    verify_all()


def test_key_values_are_well_formed_and_deterministic(values):
    assert values, "key_values() returned nothing"
    for name, value in values.items():
        assert NAME.match(name), f"bad key name {name!r}"
        assert isinstance(value, str) and value.strip(), f"{name}: empty value"
        assert "{{" not in value, f"{name}: value contains a placeholder"
        assert value.count("{") == value.count("}"), f"{name}: unbalanced braces in {value!r}"
    assert key_values() == values, "key_values() is not deterministic"
    assert not set(values) & set(EXPERIMENT_KEYS), "experiment names must not be derived values"


def test_experiment_values_format_and_missing():
    got = experiment_values({name: 0.4 for name in EXPERIMENT_KEYS})
    assert got["q3b_baseline_accuracy"] == "40.0%"
    assert got["q3b_min_threshold"] == "0.40"
    with pytest.raises(KeyError, match="q3b_mac_ratio"):
        experiment_values({name: 0.4 for name in EXPERIMENT_KEYS if name != "q3b_mac_ratio"})


# ------------------------------------------------------------------------------------------------
# the written file and the renderer
# ------------------------------------------------------------------------------------------------
def test_every_placeholder_is_known(text, values):
    used = placeholders(text)
    unknown = used - set(values) - set(EXPERIMENT_KEYS)
    assert not unknown, f"placeholders with no value: {sorted(unknown)}"
    assert set(EXPERIMENT_KEYS) <= used, f"experiment keys never used: {sorted(set(EXPERIMENT_KEYS) - used)}"
    for is_solution, start, lines in blocks(text):
        if not is_solution:
            assert "{{key:" not in "".join(lines), f"placeholder outside an answer block after line {start}"


def test_every_written_question_has_an_answer(text):
    labels = ["### Q1(a)", "### Q1(b)", "### Q1(c)", "### Q1(d)", "### Q1(e)", "### Q2(a)", "### Q2(b)",
              "**i.** Compute", "**ii.** Compute", "**iii.** Compute", "**iv.** How does",
              "**i.** What validation", "**ii.** What validation", "**iii.** How often", "**iv.** What is the MAC",
              "**v.** What validation", "**vi.** Find", "### Q4(a)", "### Q4(b)"]
    for label in labels:
        assert label in text, f"question {label!r} missing"
        answer = _answer_to(text, label)
        assert len(answer) > 100, f"answer to {label!r} is too short"
    assert len(_solution_blocks(text)) == len(labels)


def test_release_has_no_solutions(text):
    release = render(text, {}, keep_solutions=False)
    assert "{{key:" not in release
    assert "SOLUTION" not in release
    assert "**Answer" not in release
    questions = "".join("".join(lines) for is_solution, _, lines in blocks(text) if not is_solution)
    checked = 0
    for block in _solution_blocks(text):
        for line in block.splitlines():
            line = line.strip()
            if len(line) > 30 and line not in questions:  # skip formulas the question also shows
                assert line not in release, f"solution text leaked into the release: {line!r}"
                checked += 1
    assert checked > 100
    for heading in ("## Q1.", "### Q1(d)", "### Q2(b)", "### Q3(b)", "### Q4(b)", "## Q5."):
        assert heading in release


def test_key_substitutes_everything(text, all_values, values):
    key = render(text, all_values, keep_solutions=True)
    assert "{{key:" not in key
    assert values["q2b_coef_xt"] in key and values["q3a_iii_z"] in key
    assert key.count(BEGIN) == key.count(END) == len(_solution_blocks(text))


def test_render_errors():
    with pytest.raises(RenderError, match="nope"):
        render(f"Q\n{BEGIN}\n$x = {{{{key:nope}}}}$\n{END}\n", {"other": "1"}, keep_solutions=True)
    with pytest.raises(RenderError, match="never closed"):
        render(f"Q\n{BEGIN}\nanswer\n", {}, keep_solutions=False)
    with pytest.raises(RenderError, match="without BEGIN"):
        render(f"Q\n{END}\n", {}, keep_solutions=False)
    with pytest.raises(RenderError, match="nested"):
        render(f"{BEGIN}\n{BEGIN}\n{END}\n", {}, keep_solutions=True)
    with pytest.raises(RenderError, match="outside a solution block"):
        render("Question uses {{key:q1a_limit}}\n", {"q1a_limit": "0"}, keep_solutions=False)
    out = render(f"Q\n{BEGIN}\n$a = {{{{key:v}}}}$\n{END}\nR\n", {"v": r"\frac12"}, keep_solutions=True)
    assert r"$a = \frac12$" in out
    assert render(f"Q\n\n{BEGIN}\nsecret\n{END}\n\nR\n", {}, keep_solutions=False) == "Q\n\nR\n"


# ------------------------------------------------------------------------------------------------
# errata of the handout: the key must state the corrected forms
# ------------------------------------------------------------------------------------------------
def test_q2b_errata_are_wrong_and_key_is_right(values):
    forms = q2.correct_forms()
    mean, var, coef_xt, coef_x0 = q2.posterior_mean_variance()
    derived = {"coef_xt": coef_xt, "variance": var}
    A, B, _ = q2.complete_the_square()
    derived["precision"] = A
    derived["linear_x0"] = sp.expand(B).coeff(q2.x_0)
    for name, seed_form in q2.seed_erratum_forms().items():
        assert_identity(derived[name], forms[name], f"derived {name}")
        with pytest.raises(AssertionError):
            assert_identity(derived[name], seed_form, f"handout's {name}")
        seed_val, right_val = q2.erratum_counterexamples()[name]
        assert seed_val != right_val, f"{name}: handout form should differ at the counterexample"
    # the key's strings carry alphabar_{t-1} where the handout slipped
    assert r"\left(1 - \bar{\alpha}_{t-1}\right)" in values["q2b_coef_xt"]
    assert r"\frac{1}{1 - \bar{\alpha}_{t-1}}" in values["q2b_precision"]
    assert r"\sqrt{\bar{\alpha}_{t-1}}" in values["q2b_linear"]
    assert values["q2b_variance"] != r"\beta_{t}" and r"\bar{\alpha}_{t-1}" in values["q2b_variance"]


def test_q2b_question_states_tilde_beta(text):
    question = text[text.index("### Q2(b)"):text.index(BEGIN, text.index("### Q2(b)"))]
    assert r"\tilde\beta_t I" in question, "Q2(b) must state the posterior variance as beta-tilde_t"


def test_q3a_numbers_match_scipy(values):
    # ii: Phi(-5)
    assert float(q3.ii_prob()) == pytest.approx(norm.cdf(-5.0), rel=1e-12)
    assert _latex_number(values["q3a_ii_prob"]) == pytest.approx(norm.cdf(-5.0), rel=5e-3)
    # iii: z = -1e-5 / sqrt(2 * 2^-40) and Phi(z)
    z = -1e-5 / math.sqrt(2 * 2.0 ** -40)
    assert float(q3.iii_z()) == pytest.approx(z, abs=1e-12)
    assert _latex_number(values["q3a_iii_z"]) == pytest.approx(z, abs=5e-6)
    assert values["q3a_iii_z"] == "-7.41455"
    assert abs(z - q3.SEED_III_Z) > 4e-5, "the handout's -7.4146023 is not a rounding of the true z"
    assert float(q3.iii_prob()) == pytest.approx(norm.cdf(z), rel=1e-9)
    assert _latex_number(values["q3a_iii_prob"]) == pytest.approx(norm.cdf(z), rel=0.02)
    assert _latex_number(values["q3a_iii_prob_precise"]) == pytest.approx(norm.cdf(z), rel=1e-3)
    assert norm.cdf(z) < q3.SEED_III_BOUND / 1e3, "the key should give the value, not the loose bound"
    # i: the closed form against scipy at a few points
    for k in (1, 2, 5, 12):
        for m in (-0.3, 0.01, 1.7):
            want = norm.cdf(0.0, loc=m, scale=math.sqrt(2.0 ** (1 - k)))
            got = float(q3.numeric(q3.std_normal_cdf(q3.z_score(sp.Float(m, 30), k))))
            assert got == pytest.approx(want, rel=1e-9)


def test_q3a_speculation_answers_are_not_swapped(text):
    ii = _answer_to(text, "**ii.** Compute")
    iii = _answer_to(text, "**iii.** Compute")
    assert "{{key:q3a_ii_prob}}" in ii and "{{key:q3a_iii_prob}}" in iii
    assert "five of its standard deviations" in ii and "40" not in ii
    assert "After 40 terms" in iii and "five" not in iii


def test_q1_key_uses_replacement_probability(values):
    delta, T = q1.delta, q1.T
    assert values["q1a_not_replaced"] == sp.latex((1 - 2 * delta) ** T)
    assert values["q1a_not_replaced"] != sp.latex((1 - delta) ** T)
    # the posterior with the wrong prior (rho after t steps instead of t-1) must be caught
    with pytest.raises(AssertionError):
        assert_identity(q1.posterior_plus_bayes(1, 1), q1.helper_posterior_plus(1, q1.marginal_plus(1, q1.t)),
                        "posterior with rho at step t")


def test_q4_checks_reject_a_wrong_score():
    pi = q4.softmax_policy()
    with pytest.raises(AssertionError):
        q4.assert_zero(q4.softmax_score(0, 1) - (0 - pi[0]), "score with pi_a instead of pi_j")
    with pytest.raises(AssertionError):  # dropping the reward weighting breaks the identity
        q4.assert_zero(sp.diff(q4.expected_reward(), q4.theta[0]) - q4.score_function_estimate(0, baseline=1)
                       - 1, "wrong policy gradient")


def test_package_lists_its_modules():
    assert derivations.QUESTION_MODULES == ("q1_binary_diffusion", "q2_gaussian_diffusion",
                                            "q3_early_exit", "q4_policy_gradient")

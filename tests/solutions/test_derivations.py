"""The sympy derivations behind the written key, the key's placeholders, and the release renderer.

Run: .venv/bin/python -m pytest tests/solutions/test_derivations.py -q
"""
from __future__ import annotations

import inspect
import json
import math
import re
import sys
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from solutions import derivations  # noqa: E402
from solutions.derivations import (  # noqa: E402
    EXPERIMENT_KEYS,
    HANDOUT_RANGES,
    RUN_KEYS,
    SWEEP_KEYS,
    experiment_values,
    handout_values,
    key_values,
    sweep_values,
    verify_all,
)
from solutions.derivations import q1_binary_diffusion as q1
from solutions.derivations import q2_gaussian_diffusion as q2
from solutions.derivations import q3_early_exit as q3
from solutions.derivations import q4_policy_gradient as q4
from solutions.derivations._common import assert_identity  # noqa: E402
from solutions.derivations.render import BEGIN, END, RenderError, blocks, placeholders, render  # noqa: E402

WRITTEN = ROOT / "solutions" / "written" / "hw12_written.md"
RECORDED = ROOT / "solutions" / "written" / "q3b_reference_results.json"
ANSWERS = ROOT / "solutions" / "early_exit_answers.json"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def text() -> str:
    return WRITTEN.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def values() -> dict:
    return key_values()


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def all_values(values, recorded) -> dict:
    return {**values, **handout_values(), **experiment_values(recorded)}


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
    assert not set(values) & (set(EXPERIMENT_KEYS) | set(SWEEP_KEYS) | set(RUN_KEYS) | set(handout_values())), \
        "experiment names must not be derived values"


def test_experiment_values_format_and_missing(recorded):
    fake = {**recorded, **{name: 0.4 for name in EXPERIMENT_KEYS},
            "q3b_mac_spike_threshold": recorded["q3b_mac_spike_threshold"]}
    got = experiment_values(fake)
    assert got["q3b_baseline_accuracy"] == "40.0%"
    assert got["q3b_min_threshold"] == "0.40"
    assert set(got) == set(EXPERIMENT_KEYS) | set(SWEEP_KEYS) | set(RUN_KEYS)
    assert (got["q3b_run_train"], got["q3b_run_epochs"]) == (f"{recorded['_run']['overrides']['n_train']:,}",
                                                            str(recorded["_run"]["overrides"]["epochs"]))
    with pytest.raises(KeyError, match="q3b_mac_ratio"):
        experiment_values({name: 0.4 for name in EXPERIMENT_KEYS if name != "q3b_mac_ratio"})
    with pytest.raises(KeyError, match="sweep"):
        experiment_values({name: 0.4 for name in EXPERIMENT_KEYS})


# ------------------------------------------------------------------------------------------------
# the written file and the renderer
# ------------------------------------------------------------------------------------------------
def test_every_placeholder_is_known(text, values):
    used = placeholders(text)
    measured = set(EXPERIMENT_KEYS) | set(SWEEP_KEYS) | set(RUN_KEYS) | set(handout_values())
    unknown = used - set(values) - measured
    assert not unknown, f"placeholders with no value: {sorted(unknown)}"
    assert measured <= used, f"experiment keys never used: {sorted(measured - used)}"
    assert set(values) <= used, f"derived values the key never shows: {sorted(set(values) - used)}"
    for is_solution, start, lines in blocks(text):
        if not is_solution:
            assert "{{key:" not in "".join(lines), f"placeholder outside an answer block after line {start}"


def test_every_written_question_has_an_answer(text):
    labels = ["### Q1(a)", "### Q1(b)", "### Q1(c)", "### Q1(d)", "### Q1(e)", "### Q2(a)", "### Q2(b)",
              "**Q3(a) i.** Compute", "**Q3(a) ii.** Compute", "**Q3(a) iii.** Compute", "**Q3(a) iv.** How does",
              "**Q3(b) i.** What validation", "**Q3(b) ii.** What validation", "**Q3(b) iii.** How often",
              "**Q3(b) iv.** What is the MAC", "**Q3(b) v.** What validation", "**Q3(b) vi.** Find",
              "### Q4(a)", "### Q4(b)"]
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
    bound = float(q3.SEED_III_BOUND)
    assert norm.cdf(z) < bound / 1e3, "the key should give the value, not the loose bound"
    # how loose the handout's bound is, recomputed with scipy: the key's factor and its word
    ratio = bound / norm.cdf(z)
    assert _latex_number(values["q3a_iii_bound_ratio"]) == pytest.approx(ratio, rel=0.05)
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert values["q3a_iii_bound_orders"] == words[math.floor(math.log10(ratio))]
    assert values["q3a_iii_sigmas"] == words[math.floor(abs(z))]
    assert values["q3a_ii_sigmas"] == words[5]
    # i: the closed form against scipy at a few points
    for k in (1, 2, 5, 12):
        for m in (-0.3, 0.01, 1.7):
            want = norm.cdf(0.0, loc=m, scale=math.sqrt(2.0 ** (1 - k)))
            got = float(q3.numeric(q3.std_normal_cdf(q3.z_score(sp.Float(m, 30), k))))
            assert got == pytest.approx(want, rel=1e-9)


def test_q3a_speculation_answers_are_not_swapped(text, all_values):
    ii = _answer_to(text, "**Q3(a) ii.** Compute")
    iii = _answer_to(text, "**Q3(a) iii.** Compute")
    assert "{{key:q3a_ii_prob}}" in ii and "{{key:q3a_iii_prob}}" in iii
    key_ii, key_iii = (render(block + "\n" + END + "\n", all_values, keep_solutions=True) for block in (ii, iii))
    assert "five of its standard deviations" in key_ii and "40" not in key_ii
    assert "After 40 terms" in key_iii and "five" not in key_iii


def test_key_corrections(text, all_values):
    """The corrections of the key (issue list): each is stated, and in the computed form."""
    key = render(text, all_values, keep_solutions=True)
    a = _answer_to(key, "### Q1(a)")
    assert r"0 < \delta \le \tfrac12" in a and r"0 < \delta < 1" not in a
    iii = _answer_to(key, "**Q3(a) iii.** Compute")
    assert "three orders of magnitude" in iii and "four orders" not in key
    b3 = _answer_to(key, "**Q3(b) iii.** How often")
    assert "we infer" in b3 and "implies it used" not in b3
    b4 = _answer_to(key, "**Q3(b) iv.** What is the MAC")
    assert "spike" not in b4.lower()
    assert "same early-exit model" in b4 and "not by the baseline ResNet's" in b4
    assert "switches early exit off by construction" in b4
    # the largest neighbouring change of the recorded sweep, end points skipped, read off by hand
    sweep = json.loads(RECORDED.read_text())["sweep"]
    th, r = sweep["thresholds"], sweep["mac_ratio"]
    j = max(range(1, len(r) - 2), key=lambda i: abs(r[i + 1] - r[i]))
    flat = " ".join(b4.split())
    assert f"between {th[j]:.2f} and {th[j + 1]:.2f}" in flat
    assert f"from {r[j]:.3f} to {r[j + 1]:.3f}" in flat


# ------------------------------------------------------------------------------------------------
# Q3(b)iv: the sweep's facts come from the recorded run and are computed, not typed
# ------------------------------------------------------------------------------------------------
def test_handout_ranges_are_the_handouts():
    got = handout_values()
    assert len(got) == len(HANDOUT_RANGES)
    assert got["q3b_handout_baseline_accuracy"] == "55–65%" and got["q3b_handout_min_threshold"] == "0.39–0.41"


def test_recorded_sweep_is_the_reference_runs(recorded):
    answers = json.loads(ANSWERS.read_text(encoding="utf-8"))
    assert recorded["sweep"]["thresholds"] == answers["sweep"]["thresholds"]
    assert recorded["sweep"]["mac_ratio"] == answers["sweep"]["mac_ratio"]
    assert recorded["macs"]["baseline"] == answers["macs"]["baseline"]
    assert recorded["macs"]["early_exit_full"] == answers["macs"]["early_exit_cumulative"][-1]


def test_largest_change_skips_the_end_points(recorded):
    th, ratio = recorded["sweep"]["thresholds"], recorded["sweep"]["mac_ratio"]
    changes = [(abs(ratio[j] - ratio[j - 1]), j) for j in range(1, len(th))]
    top = max(changes)[1]
    assert th[top] == 1.0, "over the whole sweep the largest step is the last one (early exit off)"
    inner = max(c for c in changes if c[1] - 1 != 0 and c[1] != len(th) - 1)[1]
    lo, hi, before, after = q3.largest_change(th, ratio, skip_end_points=True)
    assert (lo, hi, before, after) == (th[inner - 1], th[inner], ratio[inner - 1], ratio[inner])
    assert (lo, hi) == (0.1, 0.15)
    got = sweep_values(recorded)
    assert (got["q3b_inner_jump_lo"], got["q3b_inner_jump_hi"]) == ("0.10", "0.15")
    assert (got["q3b_inner_jump_from"], got["q3b_inner_jump_to"]) == (f"{before:.3f}", f"{after:.3f}")
    assert got["q3b_mac_ratio_at_top"] == "1.000"
    assert q3.largest_change([0, .5, .6, 1], [.2, .3, .9, 1.], skip_end_points=False)[:2] == (.5, .6)
    assert q3.largest_change([0, .5, .6, .8, 1], [.1, .3, .4, .45, 1.], skip_end_points=True)[:2] == (.5, .6)


@pytest.mark.parametrize("change, claim", [
    (lambda th, r: (th, r[:-1] + [0.99]), "not 1"),                       # someone left early at 1.0
    (lambda th, r: (th, [r[0], r[1] * 1.01] + r[2:]), "not constant"),     # not flat up to 1/K
    (lambda th, r: (th, r[:5] + [r[5] + 0.3] + r[6:]), "straddle"),        # biggest inner jump elsewhere
    (lambda th, r: (th[::-1], r), "increase"),
])
def test_sweep_facts_refuse_a_run_that_contradicts_the_key(recorded, change, claim):
    th, ratio = change(list(recorded["sweep"]["thresholds"]), list(recorded["sweep"]["mac_ratio"]))
    with pytest.raises(q3.SweepError, match=claim):
        q3.sweep_facts(th, ratio)


# ------------------------------------------------------------------------------------------------
# every check can fail: mutate each derived expression and see verify() or key_values() fail
# ------------------------------------------------------------------------------------------------
MODULES = {"q1": q1, "q2": q2, "q3": q3, "q4": q4}
# functions that are not derived expressions: checks, operators, numerics, the Q3(b) data helpers
# (tested on their own above), the toy policy's free parameterisation (any positive odds define a
# valid policy), and erratum_counterexamples, a report for the tests built from seed_erratum_forms
# (which is mutated)
NOT_DERIVED = {"verify", "key_values", "assert_zero", "assert_zero_on_grid", "numeric", "sweep_facts",
               "largest_change", "neighbour_changes", "step_odds", "erratum_counterexamples"}
SCALE, SHIFT = sp.Rational(9, 7), sp.Rational(1, 11)


def _leaf_mutants(value):
    """Copies of ``value`` with exactly one leaf changed (one copy per leaf)."""
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            for m in _leaf_mutants(v):
                yield type(value)(list(value[:i]) + [m] + list(value[i + 1:]))
    elif isinstance(value, dict):
        for key, v in value.items():
            for m in _leaf_mutants(v):
                yield {**value, key: m}
    elif isinstance(value, sp.MatrixBase):
        m = value.as_mutable()
        m[0, 0] = m[0, 0] * SCALE + SHIFT
        yield m
    elif isinstance(value, mpmath.mpf):
        yield value * mpmath.mpf(9) / 7
    elif isinstance(value, str):
        yield value + "_wrong"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value + 1
    elif isinstance(value, sp.Basic):
        yield -value if value in (sp.oo, -sp.oo) else value * SCALE + SHIFT
    else:
        raise TypeError(f"no mutation for {type(value).__name__}")


def _errata_mutants(value):
    """The handout's slips must be told apart from the right forms: make each one right."""
    right = q2.correct_forms()
    for name in value:
        yield {**value, name: right[name]}


SPECIAL = {("q2", "seed_erratum_forms"): _errata_mutants}


def _derived(module) -> list[str]:
    names = []
    for name, obj in vars(module).items():
        fn = getattr(obj, "__wrapped__", obj)
        if (not name.startswith(("_", "check_")) and name not in NOT_DERIVED
                and inspect.isfunction(fn) and fn.__module__ == module.__name__):
            names.append(name)
    return names


def _clear_caches(module):
    for obj in vars(module).values():
        if hasattr(obj, "cache_clear"):
            obj.cache_clear()


DERIVED = [(tag, name) for tag, module in MODULES.items() for name in _derived(module)]


def test_every_module_has_derived_expressions():
    assert len(DERIVED) > 60
    for tag in MODULES:
        assert sum(t == tag for t, _ in DERIVED) >= 8, tag


@pytest.mark.extended  # minutes of sympy: CI runs it after `make test` (make test-extended)
@pytest.mark.parametrize("tag, name", DERIVED, ids=[f"{t}.{n}" for t, n in DERIVED])
def test_every_check_can_fail(monkeypatch, tag, name):
    """Each derived expression, changed in any one of its parts, makes a check fail."""
    module = MODULES[tag]
    original = getattr(module, name)
    mutate = SPECIAL.get((tag, name), _leaf_mutants)
    index = 0
    while True:
        state = {"mutated": False}

        def mutant(*args, _index=index, **kwargs):
            value = original(*args, **kwargs)
            for i, changed in enumerate(mutate(value)):
                if i == _index:
                    state["mutated"] = True
                    return changed
            return value

        monkeypatch.setattr(module, name, mutant)
        _clear_caches(module)
        try:
            module.verify()
            module.key_values()
        except AssertionError:
            pass
        else:
            assert not state["mutated"], \
                f"{tag}.{name}: changing part {index} of its value fails no check"
            break
        finally:
            monkeypatch.setattr(module, name, original)
            _clear_caches(module)
        index += 1
    assert index > 0, f"{tag}.{name} is never called by verify() or key_values()"


def test_q1_key_uses_replacement_probability(values):
    delta, T = q1.delta, q1.T
    assert values["q1a_not_replaced"] == sp.latex((1 - 2 * delta) ** T)
    assert values["q1a_not_replaced"] != sp.latex((1 - delta) ** T)
    # the posterior with the wrong prior (rho after t steps instead of t-1) must be caught
    with pytest.raises(AssertionError):
        assert_identity(q1.posterior_plus_bayes(1, 1), q1.helper_posterior_plus(1, q1.marginal_plus(1, q1.t)),
                        "posterior with rho at step t")


def test_q4_prose_claims_are_in_the_key(text, values):
    for name in q4.CLAIMS:
        assert "{{key:" + name + "}}" in text, f"the key never states {name}"
        assert values[name] == q4.CLAIMS[name][0]


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

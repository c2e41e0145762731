"""Q3: the toy 'cascade' model of early exit (a), and the facts the key states about the sweep (b).

X_i ~ N(0, 2^{-(i-1)}) independent for i = 1, 2, ...; Y_k = X_1 + ... + X_k and Y = sum of all X_i.
Given Y_k = M, the rest Y - Y_k = sum_{i>k} X_i is independent of Y_k, zero-mean Gaussian with
variance 2^{1-k}, so P(Y <= 0 | Y_k = M) = Phi(-M / sqrt(2^{1-k})).

Q3(b) asks for measured numbers; ``sweep_facts`` derives the ones the key states about the
threshold sweep from the recorded reference run and checks the key's explanation of them.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp
from sympy.stats import Normal, P

from ._common import add, assert_identity, frac, mul, number_word, sci, shown_as, shown_frac, tex

UE = sp.UnevaluatedExpr

i = sp.Symbol("i", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
M = sp.Symbol("M", real=True)
Phi = sp.Function("Phi")   # standard normal CDF, for display

DIGITS = 40                      # mpmath working precision for the numbers in the key
III_K = 40
III_M = sp.Rational(1, 100000)   # Y_40 = 0.00001
II_K = 1
II_M = sp.Integer(5)

# the handout's printed values for 3(a)iii (errata: the z-score is mis-rounded, and the
# probability is only bounded; how loose the bound is, is computed by iii_bound_ratio)
SEED_III_Z = -7.4146023178
SEED_III_BOUND = sp.Integer(10) ** -10

# both data sets of the notebook (the generated shapes10 and CIFAR-10) have ten classes
NUM_CLASSES = 10


def var_x(index=i) -> sp.Expr:
    return sp.Integer(2) ** (-(index - 1))


def total_variance() -> sp.Expr:
    return sp.summation(var_x(), (i, 1, sp.oo))


def prefix_variance(steps=k) -> sp.Expr:
    """Var(Y_k) = sum_{i<=k} 2^{-(i-1)}."""
    return sp.summation(var_x(), (i, 1, steps))


def remaining_variance(steps=k) -> sp.Expr:
    """Var(Y - Y_k) = sum_{i>k} 2^{-(i-1)} (independent terms: variances add)."""
    return sp.summation(var_x(), (i, steps + 1, sp.oo))


def std_normal_cdf(z) -> sp.Expr:
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def z_score(m=M, steps=k) -> sp.Expr:
    """P(Y <= 0 | Y_k = m) = P(Y - Y_k <= -m) = Phi(z) with z = -m / sqrt(Var(Y - Y_k))."""
    return -m / sp.sqrt(sp.Integer(2) ** (1 - steps))


def prob_nonpositive(m=M, steps=k) -> sp.Expr:
    return Phi(z_score(m, steps))


def prob_by_sympy_stats(steps: int) -> sp.Expr:
    """The same probability computed by sympy.stats from a N(0, 2^{1-k}) remainder."""
    rest = Normal("R", 0, sp.sqrt(remaining_variance(steps)))
    return P(M + rest <= 0)


def numeric(expr) -> mpmath.mpf:
    """High-precision value of an expression that may contain Phi."""
    with mpmath.workdps(DIGITS):
        expr = sp.sympify(expr).replace(Phi, std_normal_cdf)
        return mpmath.mpf(str(sp.N(expr, DIGITS)))


def ii_z() -> sp.Expr:
    return sp.simplify(z_score(II_M, II_K))


def ii_prob() -> mpmath.mpf:
    with mpmath.workdps(DIGITS):
        return mpmath.ncdf(numeric(ii_z()))


def iii_z_exact() -> sp.Expr:
    return sp.simplify(z_score(III_M, III_K))


def iii_z() -> mpmath.mpf:
    return numeric(iii_z_exact())


def iii_prob() -> mpmath.mpf:
    with mpmath.workdps(DIGITS):
        return mpmath.ncdf(iii_z())


def iii_bound_ratio() -> mpmath.mpf:
    """How many times larger the handout's bound is than the probability it bounds."""
    with mpmath.workdps(DIGITS):
        return numeric(SEED_III_BOUND) / iii_prob()


def orders_of_magnitude(ratio) -> int:
    """Whole orders of magnitude in a ratio > 1: floor(log10(ratio))."""
    with mpmath.workdps(DIGITS):
        return int(mpmath.floor(mpmath.log10(ratio)))


def standard_deviations(z) -> int:
    """Whole standard deviations between the current value and zero: floor(|z|)."""
    with mpmath.workdps(DIGITS):
        return int(mpmath.floor(abs(mpmath.mpf(z))))


def flip_prob(m=M, steps=k) -> sp.Expr:
    """P(sign Y != sign M | Y_k = M) for M != 0, by symmetry of the remainder: Phi(-|M| / sd)."""
    return Phi(-sp.Abs(m) / sp.sqrt(remaining_variance(steps)))


def flip_prob_by_cases(sign: int, steps=k) -> sp.Expr:
    """The same probability computed case by case, for M = sign * a with a > 0:
    P(Y <= 0 | Y_k = a) when M > 0, and P(Y > 0 | Y_k = -a) = 1 - P(Y <= 0 | Y_k = -a) when M < 0."""
    a = sp.Symbol("a", positive=True)
    p = std_normal_cdf(z_score(sign * a, steps))
    return (p if sign > 0 else 1 - p), a


# ---------------------------------------------------------------------------------------------
# (b) the threshold sweep of the reference run
# ---------------------------------------------------------------------------------------------
def min_top_softmax(num_classes: int = NUM_CLASSES) -> sp.Rational:
    """Smallest possible largest entry of a probability vector over ``num_classes`` classes.

    K probabilities that sum to 1 cannot all lie below 1/K, and the uniform vector has largest
    entry exactly 1/K. So every threshold up to 1/K lets every example leave at the first exit.
    """
    return sp.Rational(1, num_classes)


def neighbour_changes(thresholds, ratios) -> list:
    """(lower threshold, upper threshold, ratio at lower, ratio at upper) for neighbouring points."""
    return [(thresholds[j - 1], thresholds[j], ratios[j - 1], ratios[j]) for j in range(1, len(thresholds))]


def largest_change(thresholds, ratios, skip_end_points: bool) -> tuple:
    """The neighbouring pair with the largest |change| of the MAC ratio (the first such pair on ties).

    With ``skip_end_points`` the pairs that touch the first or the last threshold of the sweep are
    left out: there early exit is all-or-nothing by construction (every example leaves at the first
    exit at threshold 0, none leaves early at threshold 1, up to float32 rounding).
    """
    pairs = neighbour_changes(thresholds, ratios)
    if skip_end_points:
        pairs = [p for p in pairs if p[0] != thresholds[0] and p[1] != thresholds[-1]]
    if not pairs:
        raise ValueError("the sweep has too few thresholds to compare neighbours")
    return max(pairs, key=lambda p: abs(p[3] - p[2]))


# At threshold 1 an example leaves early only when its top softmax probability is exactly 1: never
# for finite logits in exact arithmetic, but float32 rounds a very confident example's to 1 (a logit
# gap above about 17). The key accepts a ratio this close to 1 as "early exit off".
TOP_RATIO_FLOOR = 0.999


class SweepError(ValueError):
    """The recorded sweep contradicts what the key says about it."""


def sweep_facts(thresholds, ratios, num_classes: int = NUM_CLASSES) -> dict:
    """The numbers the key states about the reference sweep, after checking the key's explanation.

    Raises SweepError (naming the claim) when the recorded run does not bear the explanation out:
    the thresholds must increase from 0 to 1, the ratio must be 1 at threshold 1 (early exit off; up to float32 rounding, TOP_RATIO_FLOOR),
    flat up to 1/K (every example at the first exit), and the largest change inside the sweep must
    straddle 1/K.
    """
    thresholds, ratios = [float(v) for v in thresholds], [float(v) for v in ratios]
    if len(thresholds) != len(ratios) or len(thresholds) < 4:
        raise SweepError("the sweep needs at least four (threshold, MAC ratio) points")
    if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
        raise SweepError("the sweep's thresholds must increase")
    if thresholds[0] != 0.0 or thresholds[-1] != 1.0:
        raise SweepError("the key explains a sweep from threshold 0 to threshold 1")
    if not TOP_RATIO_FLOOR <= ratios[-1] <= 1.0:
        raise SweepError(f"at threshold 1 the MAC ratio is {ratios[-1]}, not 1 (nor within "
                         f"{1 - TOP_RATIO_FLOOR:g} of it): more examples left early than float32 "
                         "rounding of a top softmax probability to 1 explains")
    floor = float(min_top_softmax(num_classes))
    flat = [r for t, r in zip(thresholds, ratios) if t <= floor + 1e-12]
    if max(flat) - min(flat) > 1e-12:
        raise SweepError(f"the MAC ratio is not constant for thresholds up to 1/{num_classes}")
    whole = largest_change(thresholds, ratios, skip_end_points=False)
    inner = largest_change(thresholds, ratios, skip_end_points=True)
    if not inner[0] <= floor < inner[1]:
        raise SweepError(f"the largest change inside the sweep ({inner[0]} to {inner[1]}) does not "
                         f"straddle 1/{num_classes}")
    return {"whole": whole, "inner": inner, "floor": floor, "bottom": thresholds[0],
            "top_ratio": ratios[-1]}


def verify() -> None:
    if total_variance() != 2:
        raise AssertionError(f"3a: total variance should be 2, got {total_variance()}")
    assert_identity(remaining_variance(), sp.Integer(2) ** (1 - k), "3a-i: Var(Y - Y_k) = 2^{1-k}")
    assert_identity(prefix_variance() + remaining_variance(), total_variance(),
                    "3a-i: Var(Y_k) + Var(Y - Y_k) = Var(Y)")
    assert_identity(total_variance() - 2 * (1 - sp.Rational(1, 2) ** k), remaining_variance(),
                    "3a-i: the form 2 - 2(1 - 2^{-k}) agrees")
    for steps in range(1, 12):
        trunc = sum(var_x(j) for j in range(steps + 1, 80))
        if abs(trunc - remaining_variance(steps)) > sp.Rational(1, 2 ** 70):
            raise AssertionError(f"3a-i: truncated sum of variances disagrees at k = {steps}")
    for steps in range(1, 5):
        stats = prob_by_sympy_stats(steps).rewrite(sp.erf)
        assert_identity(stats, std_normal_cdf(z_score(M, steps)),
                        f"3a-i: sympy.stats agrees with Phi(-M/sqrt(2^(1-k))) at k = {steps}")
    if remaining_variance(II_K) != 1 or ii_z() != -5:
        raise AssertionError("3a-ii: remaining variance after k = 1 should be 1 and z should be -5")
    if remaining_variance(III_K) != sp.Rational(1, 2 ** 39):
        raise AssertionError("3a-iii: remaining variance after k = 40 should be 2^-39")
    assert_identity(iii_z_exact(), -III_M / sp.sqrt(2 * sp.Rational(1, 2 ** 40)),
                    "3a-iii: z = -1e-5 / sqrt(2 * 2^-40)")
    z3, p3 = iii_z(), iii_prob()
    if not (-7.414555 < z3 < -7.414545):
        raise AssertionError(f"3a-iii: z should be about -7.41455, got {z3}")
    if abs(z3 - SEED_III_Z) < 1e-5:
        raise AssertionError("3a-iii: z should differ from the handout's mis-rounded -7.4146023")
    if not (6.0e-14 < p3 < 6.2e-14):
        raise AssertionError(f"3a-iii: Phi(z) should be about 6.1e-14, got {p3}")
    if not (2.86e-7 < ii_prob() < 2.87e-7):
        raise AssertionError(f"3a-ii: Phi(-5) should be about 2.8665e-7, got {ii_prob()}")
    ratio = iii_bound_ratio()
    if not (1.6e3 < ratio < 1.7e3) or orders_of_magnitude(ratio) != 3:
        raise AssertionError(f"3a-iii: 1e-10 / Phi(z) should be about 1.64e3 (three orders), got {ratio}")
    if standard_deviations(iii_z()) != 7 or standard_deviations(ii_z()) != 5:
        raise AssertionError("3a-ii/iii: the margins should be 5 and just over 7 standard deviations")
    # iv: the chance that the sign still flips, for either sign of M
    for sign in (1, -1):
        by_cases, a = flip_prob_by_cases(sign)
        assert_identity(by_cases, std_normal_cdf(-a / sp.sqrt(remaining_variance())),
                        f"3a-iv: P(sign flips | Y_k = {'+' if sign > 0 else '-'}a) = Phi(-a / sd)")
        assert_identity(flip_prob(sign * a).replace(Phi, std_normal_cdf), by_cases,
                        f"3a-iv: Phi(-|M| / sd) covers M = {'+' if sign > 0 else '-'}a")
    # b-iv: the smallest top softmax probability over K classes
    for classes in range(2, 13):
        floor = min_top_softmax(classes)
        assert_identity(classes * floor, 1, f"3b-iv: K = {classes} probabilities at 1/K sum to 1")
        below = [floor - sp.Rational(1, 1000)] * classes
        if not sum(below) < 1:
            raise AssertionError(f"3b-iv: K = {classes} values below 1/K should sum to less than 1")


@lru_cache(maxsize=None)
def key_values() -> dict:
    two = sp.Integer(2)
    vals = {}
    vals["q3a_var_x"] = shown_as(sp.Pow(UE(two), mul(-1, add(i, -1))), var_x(), "3a Var X_i")
    vals["q3a_total_var"] = tex(total_variance())
    vals["q3a_prefix_var"] = shown_as(add(2, -sp.Pow(two, add(1, -k), evaluate=False)), prefix_variance(),
                                      "3a Var Y_k")
    vals["q3a_remaining_var"] = shown_as(sp.Pow(two, add(1, -k), evaluate=False), remaining_variance(),
                                         "3a Var(Y - Y_k)")
    prob_arg = shown_frac(M, sp.sqrt(UE(sp.Pow(two, add(1, -k)))), -z_score(), "3a-i z-score")
    assert_identity(prob_nonpositive(), Phi(-M / sp.sqrt(remaining_variance())), "3a-i probability")
    vals["q3a_prob"] = rf"\Phi\left(-{prob_arg}\right)"
    alt = mul(-M, sp.Pow(UE(two), frac(add(k, -1), 2)))
    shown_as(alt, z_score(), "3a-i z-score, second form")
    vals["q3a_prob_alt"] = tex(Phi(alt))
    vals["q3a_ii_var"] = tex(remaining_variance(II_K))
    vals["q3a_ii_z"] = tex(ii_z())
    vals["q3a_ii_prob"] = sci(ii_prob(), 3)
    vals["q3a_iii_var_exact"] = shown_as(sp.Pow(UE(two), 1 - III_K), remaining_variance(III_K),
                                         "3a-iii remaining variance")
    vals["q3a_iii_var"] = sci(remaining_variance(III_K), 4)
    vals["q3a_iii_std"] = sci(sp.sqrt(remaining_variance(III_K)), 4)
    vals["q3a_iii_std_exact"] = shown_as(sp.Pow(UE(two), sp.Rational(1 - III_K, 2)),
                                         sp.sqrt(remaining_variance(III_K)), "3a-iii standard deviation")
    vals["q3a_iii_z"] = f"{float(iii_z()):.5f}"
    vals["q3a_iii_prob"] = sci(iii_prob(), 2)
    vals["q3a_iii_prob_precise"] = sci(iii_prob(), 4)
    vals["q3a_iii_z_formula"] = "-" + shown_frac(sp.Pow(UE(sp.Integer(10)), -5),
                                                 sp.sqrt(UE(mul(2, sp.Pow(UE(two), -III_K)))),
                                                 -iii_z_exact(), "3a-iii z")
    assert_identity(sp.Pow(10, -5), III_M, "3a-iii M = 10^-5")
    vals["q3a_iii_bound"] = shown_as(sp.Pow(UE(sp.Integer(10)), -10), SEED_III_BOUND, "3a-iii handout bound")
    vals["q3a_iii_bound_ratio"] = sci(iii_bound_ratio(), 2)
    vals["q3a_iii_bound_orders"] = number_word(orders_of_magnitude(iii_bound_ratio()))
    vals["q3a_iii_sigmas"] = number_word(standard_deviations(iii_z()))
    vals["q3a_ii_sigmas"] = number_word(standard_deviations(ii_z()))
    flip_arg = shown_frac(sp.Abs(M), sp.sqrt(UE(sp.Pow(two, add(1, -k)))), sp.Abs(M) / sp.sqrt(remaining_variance()),
                          "3a-iv flip probability")
    assert_identity(flip_prob(), Phi(-sp.Abs(M) / sp.sqrt(remaining_variance())), "3a-iv flip probability")
    vals["q3a_iv_flip_prob"] = rf"\Phi\left(-{flip_arg}\right)"
    return vals

"""Q3(a): the toy 'cascade' model of early exit.

X_i ~ N(0, 2^{-(i-1)}) independent for i = 1, 2, ...; Y_k = X_1 + ... + X_k and Y = sum of all X_i.
Given Y_k = M, the rest Y - Y_k = sum_{i>k} X_i is independent of Y_k, zero-mean Gaussian with
variance 2^{1-k}, so P(Y <= 0 | Y_k = M) = Phi(-M / sqrt(2^{1-k})).
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp
from sympy.stats import Normal, P

from ._common import add, assert_identity, sci, shown_as, tex

i = sp.Symbol("i", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
M = sp.Symbol("M", real=True)
Phi = sp.Function("Phi")   # standard normal CDF, for display

DIGITS = 40                      # mpmath working precision for the numbers in the key
III_K = 40
III_M = sp.Rational(1, 100000)   # Y_40 = 0.00001
II_K = 1
II_M = sp.Integer(5)

# the handout's printed values for 3(a)iii (errata: the z-score is mis-rounded and the
# probability is only bounded, by a bound four orders of magnitude loose)
SEED_III_Z = -7.4146023178
SEED_III_BOUND = 1e-10


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


@lru_cache(maxsize=None)
def key_values() -> dict:
    two = sp.Integer(2)
    vals = {}
    assert_identity(var_x(), two ** (-(i - 1)), "3a Var X_i")
    vals["q3a_var_x"] = rf"2^{{-({tex(add(i, -1))})}}"
    vals["q3a_total_var"] = tex(total_variance())
    vals["q3a_prefix_var"] = shown_as(add(2, -sp.Pow(two, add(1, -k), evaluate=False)), prefix_variance(),
                                      "3a Var Y_k")
    vals["q3a_remaining_var"] = shown_as(sp.Pow(two, add(1, -k), evaluate=False), remaining_variance(),
                                         "3a Var(Y - Y_k)")
    rem = vals["q3a_remaining_var"]
    assert_identity(z_score(), -M / sp.sqrt(remaining_variance()), "3a-i z-score")
    vals["q3a_prob"] = rf"\Phi\left(-\frac{{M}}{{\sqrt{{{rem}}}}}\right)"
    assert_identity(z_score(), -M * two ** ((k - 1) / two), "3a-i z-score, second form")
    vals["q3a_prob_alt"] = r"\Phi\left(-M \cdot 2^{(k-1)/2}\right)"
    vals["q3a_ii_var"] = tex(remaining_variance(II_K))
    vals["q3a_ii_z"] = tex(ii_z())
    vals["q3a_ii_prob"] = sci(ii_prob(), 3)
    assert_identity(remaining_variance(III_K), two ** (1 - III_K), "3a-iii remaining variance")
    vals["q3a_iii_var_exact"] = f"2^{{{1 - III_K}}}"
    vals["q3a_iii_var"] = sci(remaining_variance(III_K), 4)
    vals["q3a_iii_std"] = sci(sp.sqrt(remaining_variance(III_K)), 4)
    vals["q3a_iii_std_exact"] = f"2^{{{1 - III_K}/2}}"
    vals["q3a_iii_z"] = f"{float(iii_z()):.5f}"
    vals["q3a_iii_prob"] = sci(iii_prob(), 2)
    vals["q3a_iii_prob_precise"] = sci(iii_prob(), 4)
    return vals

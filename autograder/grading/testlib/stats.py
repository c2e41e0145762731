"""Acceptance regions for statistical tests with a bounded false-fail probability.

Every statistical test in the hidden suites states the probability that a *correct* implementation
fails it (at most ``FALSE_FAIL = 1e-6`` per test case). A test case that makes k checks gives each
check ``alpha = FALSE_FAIL / k`` (union bound, see :func:`per_check`), and each check accepts on a
region whose probability under the correct distribution is at least ``1 - alpha``:

- counts of independent coin flips: the exact binomial tails (:func:`binomial_region`);
- the mean of n i.i.d. N(mu, sigma^2) values: an exact normal interval (:func:`normal_mean_halfwidth`);
- the sum of squares of n i.i.d. N(0, 1) values: exact chi-square tails (:func:`chi2_region`).

The regions are exact (not asymptotic), so the stated bound holds for any sample size; sample
sizes are chosen in the tests so that the wrong implementations in the mutant bank fall far
outside the regions.
"""
from __future__ import annotations

import math

__all__ = [
    "FALSE_FAIL",
    "per_check",
    "binomial_region",
    "normal_mean_halfwidth",
    "chi2_region",
]

#: Largest allowed probability that a correct implementation fails one statistical test case.
FALSE_FAIL = 1e-6


def per_check(n_checks: int, total: float = FALSE_FAIL) -> float:
    """Significance level of each of ``n_checks`` checks so that their union is at most ``total``."""
    if n_checks < 1:
        raise ValueError("n_checks must be >= 1")
    return total / n_checks


def binomial_region(n: int, p: float, alpha: float) -> tuple[int, int]:
    """Integers ``(lo, hi)`` with P(X < lo) <= alpha/2 and P(X > hi) <= alpha/2 for X ~ Bin(n, p).

    The region is as narrow as the exact tails allow; its total false-fail mass is at most alpha.
    """
    from scipy.stats import binom

    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    half = alpha / 2
    lo = int(binom.ppf(half, n, p))        # smallest k with P(X <= k) >= half, so P(X < lo) < half
    hi = int(binom.isf(half, n, p))        # smallest k with P(X > k) <= half
    # Guard against floating-point edge effects of ppf/isf: widen until the exact tails hold.
    while lo > 0 and binom.cdf(lo - 1, n, p) > half:
        lo -= 1
    while hi < n and binom.sf(hi, n, p) > half:
        hi += 1
    return lo, hi


def normal_mean_halfwidth(n: int, sigma: float, alpha: float) -> float:
    """Half-width h with P(|mean - mu| > h) = alpha for the mean of n i.i.d. N(mu, sigma^2) values."""
    from scipy.stats import norm

    return float(norm.isf(alpha / 2) * sigma / math.sqrt(n))


def chi2_region(dof: int, alpha: float) -> tuple[float, float]:
    """``(lo, hi)`` with P(S < lo) = P(S > hi) = alpha/2 for S ~ chi-square(dof).

    For n i.i.d. N(0, 1) values z_i, S = sum z_i^2 has dof = n (no mean is estimated).
    """
    from scipy.stats import chi2

    return float(chi2.ppf(alpha / 2, dof)), float(chi2.isf(alpha / 2, dof))


"""Small helpers shared by the derivation modules.

Every check raises ``AssertionError`` with a message that says which claim failed, so that
``verify_all()`` points straight at the broken derivation.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import sympy as sp


def _freeze_symbolic_powers(expr: sp.Expr) -> sp.Expr:
    """Split ``b**(t + c)`` into ``b**t * b**c`` and replace each ``b**t`` (symbolic exponent) by a
    fresh symbol, so that a rational-function identity in ``b**t`` can be decided by ``cancel``."""
    split = {}
    for w in expr.atoms(sp.Pow):
        if w.exp.is_number:
            continue
        const, rest = w.exp.as_coeff_Add()
        split[w] = sp.Pow(w.base, rest) * sp.Pow(w.base, const)
    expr = expr.xreplace(split)
    frozen = {w: sp.Dummy() for w in expr.atoms(sp.Pow) if not w.exp.is_number}
    return sp.cancel(expr.xreplace(frozen))


# exact sample values for a quick numeric look at a claimed identity: every value lies in (0, 1/2),
# where each symbol of the derivations is admissible (probabilities, schedule values, 1 - 2 delta > 0)
_SAMPLE = [sp.Rational(n, d) for n, d in ((1, 3), (2, 7), (3, 11), (4, 13), (5, 17), (6, 19), (7, 23),
                                         (8, 29), (9, 31), (10, 37), (11, 41), (12, 43))]


def counterexample(expr: sp.Expr):
    """A point where ``expr`` is clearly not zero, as (point, value), or None.

    Every symbol gets an admissible value (a positive integer for integer symbols, a rational in
    (0, 1/2) otherwise), so a non-zero value there disproves the identity ``expr == 0`` at once,
    without the (slow) symbolic simplification that a proof needs.
    """
    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    point = {s: (3 + n % 4 if s.is_integer else _SAMPLE[n % len(_SAMPLE)]) for n, s in enumerate(symbols)}
    try:
        value = sp.sympify(expr).xreplace(point).evalf(50)
    except (TypeError, ValueError, ZeroDivisionError, NotImplementedError):  # pragma: no cover
        return None
    if value.is_number and value.is_finite and value.free_symbols == set() and abs(value) > 1e-20:
        return point, value
    return None


def is_zero(expr: sp.Expr) -> bool:
    """True when sympy can show that ``expr`` is identically zero."""
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    try:
        if sp.cancel(expr) == 0:
            return True
    except (TypeError, ValueError, NotImplementedError):  # pragma: no cover - sympy corner cases
        pass
    if counterexample(expr) is not None:
        return False
    for step in (_freeze_symbolic_powers, sp.simplify,
                 lambda e: sp.simplify(sp.powsimp(sp.expand(e), force=True))):
        try:
            if step(expr) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError):  # pragma: no cover - sympy corner cases
            continue
    return False


def assert_identity(lhs: sp.Expr, rhs: sp.Expr, claim: str) -> None:
    """Assert ``lhs == rhs`` symbolically (``simplify(lhs - rhs) == 0``)."""
    diff = sp.sympify(lhs) - sp.sympify(rhs)
    if not is_zero(diff):
        found = counterexample(diff)
        if found is not None:
            point, value = found
            raise AssertionError(f"{claim}: the two sides differ, by {sp.N(value, 6)} at {point}")
        raise AssertionError(f"{claim}: the two sides differ by {sp.simplify(diff)}")


def assert_differs(seed_form: sp.Expr, correct: sp.Expr, at: Mapping[sp.Symbol, object],
                   claim: str) -> sp.Expr:
    """Assert that an erratum really is wrong: the two forms differ at the point ``at``.

    Returns the (exact) difference at that point, a counterexample to ``seed_form == correct``.
    """
    diff = sp.nsimplify(sp.simplify(sp.sympify(seed_form).subs(at) - sp.sympify(correct).subs(at)))
    if diff == 0:
        raise AssertionError(f"{claim}: expected a counterexample at {dict(at)}, but both forms agree")
    return diff


def tex(expr) -> str:
    """LaTeX for a key value; keeps the term order of unevaluated display forms."""
    return sp.latex(expr, order="none")


def shown_as(display: sp.Expr, proven: sp.Expr, claim: str, subs: Mapping | None = None) -> str:
    """LaTeX of ``display`` after checking that it equals the ``proven`` expression.

    ``display`` is an unevaluated (nicely ordered) form built for the answer key; ``subs`` maps
    display-only symbols (such as ``alphabar_t``) to what they stand for.
    """
    value = sp.sympify(display).doit()
    if subs:
        value = value.subs(subs)
    assert_identity(value, proven, f"display form of {claim}")
    return tex(display)


def add(*terms) -> sp.Expr:
    """An unevaluated sum that prints its terms in the given order."""
    return sp.Add(*terms, evaluate=False)


def mul(*factors) -> sp.Expr:
    """An unevaluated product that prints its factors in the given order."""
    return sp.Mul(*factors, evaluate=False)


def frac(num, den) -> sp.Expr:
    """An unevaluated fraction ``num / den``."""
    if num == 1:
        return sp.Pow(den, -1, evaluate=False)
    return sp.Mul(num, sp.Pow(den, -1, evaluate=False), evaluate=False)


def shown_frac(num, den, proven, claim: str, subs: Mapping | None = None) -> str:
    """LaTeX ``\\frac{num}{den}`` after checking that ``num / den`` equals ``proven``.

    For displays whose parts sympy would otherwise print as ``(...)^{-1}`` (unevaluated powers).
    """
    shown_as(sp.Mul(num, sp.Pow(den, -1, evaluate=False), evaluate=False), proven, claim, subs)
    return rf"\frac{{{tex(num)}}}{{{tex(den)}}}"


def sci(value, digits: int) -> str:
    """Format a positive number as LaTeX scientific notation with ``digits`` significant digits."""
    mantissa, exponent = f"{float(value):.{digits - 1}e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve")


def number_word(n: int) -> str:
    """A small whole number as an English word (for counts stated in prose)."""
    if not 0 <= int(n) < len(_WORDS) or int(n) != n:
        raise ValueError(f"no word for {n!r}")
    return _WORDS[int(n)]


def rationals(values: Iterable) -> list:
    return [sp.Rational(v) for v in values]

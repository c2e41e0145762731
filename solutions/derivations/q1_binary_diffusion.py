"""Q1: binary (pixel-flip) diffusion.

Conventions (as in the homework): pixels are +/-1; ``t`` counts forward steps and t = 0 is the clean
image; one step flips each pixel independently with probability ``delta``, which is the same as
"with probability 2*delta replace the pixel by a fair coin". ``r = 1 - 2*delta`` is the
per-step survival probability and the non-trivial eigenvalue of the flip matrix.
(Same construction as the uniform-noise D3PM of Austin et al. 2021, Sec. 3.1, with K = 2 classes.)
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import sympy as sp

from ._common import add, assert_identity, frac, mul, rationals, shown_as, tex

delta = sp.Symbol("delta", positive=True)
t = sp.Symbol("t", integer=True, positive=True)
T = sp.Symbol("T", integer=True, positive=True)
x = sp.Symbol("x")          # x = Y_0[j], either +1 or -1
y = sp.Symbol("y")          # y = Y_t[j], either +1 or -1
rho = sp.Symbol("rho")      # the helper's prior P(A = +1)
p = sp.Symbol("p")          # target probability of +1
q = sp.Symbol("q", positive=True)  # model probability of +1, in (0, 1)
r = 1 - 2 * delta           # survival probability per step

# Exact sample points: 2 delta is a probability, so 0 < delta <= 1/2 (delta = 1/2 is checked apart).
DELTAS = rationals(["1/100", "1/10", "1/7", "1/3", "2/5", "9/20", "49/100"])
SIGNS = (1, -1)


# ---------------------------------------------------------------------------------------------
# (a) survival of the original pixel
# ---------------------------------------------------------------------------------------------
def flip_prob_of_replacement_view() -> sp.Expr:
    """One step of the 'replace by a fair coin w.p. 2 delta' view flips a pixel w.p. 2 delta * 1/2."""
    return 2 * delta * sp.Rational(1, 2)


def not_replaced_prob(steps=T) -> sp.Expr:
    """P(pixel never replaced in ``steps`` steps): all independent replacement coins came up -1."""
    return (1 - 2 * delta) ** steps


def replacement_chain() -> sp.Matrix:
    """One step of the replacement view on the states (never replaced, replaced at least once):
    the replacement coin shows +1 w.p. 2 delta, and once replaced a pixel stays 'replaced'."""
    return sp.Matrix([[1 - 2 * delta, 2 * delta], [0, 1]])


def not_replaced_prob_by_chain(steps: int) -> sp.Expr:
    """P(never replaced in ``steps`` steps), by running the two-state chain step by step."""
    return (sp.Matrix([[1, 0]]) * replacement_chain() ** steps)[0, 0]


def not_replaced_prob_by_enumeration(steps: int, delta_value) -> sp.Expr:
    """P(never replaced) for a concrete delta by listing all 2^steps outcomes of the coins R_1..R_T."""
    d = sp.Rational(delta_value)
    total = sp.Integer(0)
    for outcome in itertools.product((1, -1), repeat=steps):
        weight = sp.Mul(*[2 * d if c == 1 else 1 - 2 * d for c in outcome])
        if all(c == -1 for c in outcome):
            total += weight
    return total


def limit_not_replaced(delta_value) -> sp.Expr:
    """lim_{T->oo} (1 - 2 delta)^T for a concrete delta in (0, 1)."""
    base = 1 - 2 * sp.Rational(delta_value)
    if base == 0:  # delta = 1/2: every pixel is replaced at the first step
        return sp.Integer(0)
    return sp.limit(sp.Abs(base) ** T, T, sp.oo)


def limit_not_replaced_symbolic() -> sp.Expr:
    """lim |r|^T for symbolic 0 < |r| < 1, written as |r| = 1/(1+s) with s > 0."""
    s = sp.Symbol("s", positive=True)
    return sp.limit((1 / (1 + s)) ** T, T, sp.oo)


# ---------------------------------------------------------------------------------------------
# (b) one-shot marginal
# ---------------------------------------------------------------------------------------------
def flip_matrix() -> sp.Matrix:
    """One-step transition matrix, states ordered (+1, -1): rows are 'from', columns 'to'."""
    return sp.Matrix([[1 - delta, delta], [delta, 1 - delta]])


def marginal_plus(x0=x, steps=t) -> sp.Expr:
    """Closed form P(Y_t = +1 | Y_0 = x0) = (1 + x0 (1-2 delta)^t) / 2."""
    return (1 + x0 * r ** steps) / 2


def marginal(value, x0=x, steps=t) -> sp.Expr:
    """P(Y_t = value | Y_0 = x0) for value in {+1, -1}: (1 + value * x0 * r^t) / 2."""
    return (1 + value * x0 * r ** steps) / 2


def marginal_by_two_coins(x0=x, steps=t) -> sp.Expr:
    """P(Y_t = +1) under the two-coin sampler: keep x0 w.p. r^t, else draw a fair coin."""
    keep = r ** steps
    return keep * (1 + x0) / 2 + (1 - keep) * sp.Rational(1, 2)


def matrix_power_closed_form(steps=t) -> sp.Matrix:
    """M^t from the eigen-decomposition M = P diag(1, 1 - 2 delta) P^{-1}."""
    P, D = flip_matrix().diagonalize()
    return sp.simplify(P * sp.diag(*[D[i, i] ** steps for i in range(2)]) * P.inv())


def eigenvalues() -> list:
    return sorted(flip_matrix().eigenvals(), key=lambda e: sp.default_sort_key(e))


def marginal_by_matrix_power(x0: int, steps: int) -> sp.Expr:
    """Row 'x0' of M^steps, column '+1': the chain run step by step (no closed form used)."""
    row = 0 if x0 == 1 else 1
    return (flip_matrix() ** steps)[row, 0]


# ---------------------------------------------------------------------------------------------
# (d) posterior of the previous pixel
# ---------------------------------------------------------------------------------------------
def helper_posterior_plus(y_value: int, prior=rho) -> sp.Expr:
    """The question's helper formulas (1) and (3): P(A = +1 | B = y) for a delta-flip channel."""
    if y_value == 1:
        return (1 - delta) * prior / ((1 - prior) * delta + (1 - delta) * prior)
    return delta * prior / (prior * delta + (1 - delta) * (1 - prior))


def rho_of(x0=x, steps=t) -> sp.Expr:
    """rho = P(Y_{t-1} = +1 | Y_0 = x0): the part-(b) marginal after t - 1 steps."""
    return marginal_plus(x0, steps - 1)


def flip_kernel(prev, nxt) -> sp.Expr:
    """P(Y_t = nxt | Y_{t-1} = prev) = 1 - delta if equal else delta, i.e. (1 + prev*nxt*r)/2."""
    return (1 + prev * nxt * r) / 2


def posterior_plus_bayes(y_value, x_value, steps=t) -> sp.Expr:
    """Bayes' rule on the chain: P(Y_{t-1}=+1 | Y_t=y, Y_0=x) from the joint of (Y_{t-1}, Y_t)."""
    joint = {prev: marginal(prev, x_value, steps - 1) * flip_kernel(prev, y_value) for prev in SIGNS}
    return joint[1] / (joint[1] + joint[-1])


def posterior_plus_closed(y_value=y, x_value=x, steps=t) -> sp.Expr:
    """One formula for all four sign cases: (1 + y r)(1 + x r^{t-1}) / (2 (1 + x y r^t))."""
    return (1 + y_value * r) * (1 + x_value * r ** (steps - 1)) / (2 * (1 + x_value * y_value * r ** steps))


def posterior_by_enumeration(y_value: int, x_value: int, steps: int, delta_value) -> sp.Expr:
    """Brute force: run the 2x2 chain with matrix powers for a concrete delta and t."""
    M = flip_matrix().subs(delta, delta_value)
    start = sp.Matrix([[1, 0]]) if x_value == 1 else sp.Matrix([[0, 1]])
    prev = start * M ** (steps - 1)                  # distribution of Y_{t-1}
    col = 0 if y_value == 1 else 1
    joint_plus = prev[0] * M[0, col]
    joint_minus = prev[1] * M[1, col]
    return joint_plus / (joint_plus + joint_minus)


# ---------------------------------------------------------------------------------------------
# (e) the KL loss
# ---------------------------------------------------------------------------------------------
def bernoulli_kl(p_=p, q_=q) -> sp.Expr:
    """KL(Bern(p) || Bern(q)) = p log(p/q) + (1-p) log((1-p)/(1-q))."""
    return p_ * sp.log(p_ / q_) + (1 - p_) * sp.log((1 - p_) / (1 - q_))


def bernoulli_kl_point_mass(x_value: int, q_=q) -> sp.Expr:
    """KL when the target is a point mass on x_value (0 log 0 = 0 convention)."""
    return -sp.log(q_) if x_value == 1 else -sp.log(1 - q_)


def binary_cross_entropy(x_value: int, q_=q) -> sp.Expr:
    """BCE of predicting P(+1) = q for the label x_value."""
    label = sp.Rational(1 + x_value, 2)
    return -(label * sp.log(q_) + (1 - label) * sp.log(1 - q_))


def _in_odds(expr: sp.Expr) -> sp.Expr:
    """Rewrite q = 1/(1+s) with s > 0 so that q and 1-q are visibly positive, then split the logs
    (valid because every log argument is then a product of positive factors)."""
    s = sp.Symbol("s_odds", positive=True)
    return sp.expand_log(sp.simplify(expr.subs(q, 1 / (1 + s))), force=True)


def kl_derivative_in_q() -> sp.Expr:
    return sp.diff(bernoulli_kl(), q)


def kl_derivative_in_logit() -> sp.Expr:
    """d KL(Bern(p) || Bern(sigmoid(z))) / dz, returned in terms of q = sigmoid(z)."""
    z = sp.Symbol("z", real=True)
    sig = 1 / (1 + sp.exp(-z))
    grad = sp.diff(bernoulli_kl(p, sig), z)
    # express through q: exp(-z) = (1 - q) / q
    return sp.simplify(grad.subs(sp.exp(-z), (1 - q) / q).subs(sp.exp(z), q / (1 - q)))


def smoothing_epsilon(steps=t) -> sp.Expr:
    """Label-smoothing amount of rho: rho = (1 - eps) * [x = +1] + eps / 2 with eps = 1 - r^{t-1}."""
    return 1 - r ** (steps - 1)


def expected_posterior_given_x(x_value, steps=t) -> sp.Expr:
    """E over Y_t ~ P(. | Y_0 = x) of the posterior target: equals rho by the tower rule."""
    return sum(marginal(yv, x_value, steps) * posterior_plus_closed(yv, x_value, steps) for yv in SIGNS)


def limit_large_t(expr: sp.Expr) -> sp.Expr:
    """lim_{t->oo} of an expression whose t-dependence is only through r^{t-1} and r^t.

    By part (a), |r|^n -> 0 for 0 < delta < 1, so substitute r^{t-1} = u, r^t = r u and let u -> 0.
    """
    u = sp.Symbol("u")
    e = expr.xreplace({r ** (t - 1): u, r ** t: r * u})
    if t in e.free_symbols:
        raise AssertionError(f"limit_large_t: unexpected t-dependence left in {e}")
    return sp.simplify(sp.limit(e, u, 0))


z_act = sp.Symbol("z", real=True)


def activations() -> dict:
    """The three candidate nonlinearities of 1(c)."""
    return {"sigmoid": 1 / (1 + sp.exp(-z_act)), "relu": sp.Max(0, z_act), "tanh": sp.tanh(z_act)}


def activation_ranges() -> dict:
    """(inf, sup) of each candidate activation in 1(c) over the real line (all three are monotone)."""
    return {name: (sp.limit(f, z_act, -sp.oo), sp.limit(f, z_act, sp.oo)) for name, f in activations().items()}


def probability_activations() -> list:
    """Names of the candidates whose every output is a probability, i.e. whose range lies in [0, 1]."""
    return [name for name, (lo, hi) in activation_ranges().items() if lo >= 0 and hi <= 1]


def denominator_plus_plus(steps=t) -> tuple:
    """Q1(d), x = y = +1: the denominator of the helper formula after multiplying by 2, written as in
    the key, (1 - delta)(1 + r^{t-1}) + delta (1 - r^{t-1}), and its collapsed form 1 + r^t."""
    lhs = (1 - delta) * (1 + r ** (steps - 1)) + delta * (1 - r ** (steps - 1))
    return lhs, 1 + r ** steps


# ---------------------------------------------------------------------------------------------
def verify() -> None:
    # (a)
    assert_identity(flip_prob_of_replacement_view(), delta,
                    "1a: replace-by-fair-coin w.p. 2δ flips a pixel w.p. δ")
    for n in range(0, 9):
        assert_identity(not_replaced_prob_by_chain(n), not_replaced_prob(n),
                        f"1a: {n} steps of the replaced/not-replaced chain give (1-2δ)^{n}")
    for n in range(1, 7):
        for d in DELTAS[:4]:
            assert_identity(not_replaced_prob_by_enumeration(n, d), not_replaced_prob(n).subs(delta, d),
                            f"1a: listing all coin outcomes gives (1-2δ)^{n} at δ = {d}")
    for d in DELTAS + [sp.Rational(1, 2)]:
        lim = limit_not_replaced(d)
        if lim != 0:
            raise AssertionError(f"1a: lim (1-2δ)^T should be 0 for δ = {d}, sympy gives {lim}")
    if limit_not_replaced_symbolic() != 0:
        raise AssertionError("1a: lim |r|^T is not 0 for symbolic 0 < |r| < 1")

    # (b)
    if eigenvalues() != sorted([sp.Integer(1), 1 - 2 * delta], key=sp.default_sort_key):
        raise AssertionError(f"1b: flip matrix eigenvalues are {eigenvalues()}, expected 1 and 1-2δ")
    for n in range(0, 9):
        for x0 in SIGNS:
            assert_identity(marginal_by_matrix_power(x0, n), marginal_plus(x0, n),
                            f"1b: {n}-fold product of the flip matrix from Y_0 = {x0}")
    for x0 in SIGNS:  # induction step: one more flip maps the closed form at t to the one at t+1
        m = marginal_plus(x0, t)
        assert_identity((1 - delta) * m + delta * (1 - m), marginal_plus(x0, t + 1),
                        f"1b: induction step from t to t+1 (Y_0 = {x0})")
        assert_identity(marginal_by_two_coins(x0), marginal_plus(x0),
                        f"1b: the two-coin sampler has the right marginal (Y_0 = {x0})")
    assert_identity(marginal_plus(x, 0), (1 + x) / 2, "1b: t = 0 is the identity")

    # (c)
    ranges = activation_ranges()
    expected = {"sigmoid": (0, 1), "relu": (0, sp.oo), "tanh": (-1, 1)}
    for name, want in expected.items():
        if tuple(ranges[name]) != want:
            raise AssertionError(f"1c: range of {name} is {ranges[name]}, expected {want}")
    for name, f in activations().items():   # monotone, so the limits are the range's end points
        slope = sp.diff(f, z_act)
        if name != "relu" and not all(slope.subs(z_act, v) > 0 for v in (-5, -1, 0, 1, 5)):
            raise AssertionError(f"1c: {name} should be increasing")
    if probability_activations() != ["sigmoid"]:
        raise AssertionError(f"1c: the activations with outputs in [0, 1] are {probability_activations()}")

    # (d)
    for x0 in SIGNS:
        for yv in SIGNS:
            bayes = posterior_plus_bayes(yv, x0)
            assert_identity(bayes, helper_posterior_plus(yv, rho_of(x0)),
                            f"1d: Bayes posterior equals helper formula (x = {x0}, y = {yv})")
            assert_identity(bayes, posterior_plus_closed(yv, x0),
                            f"1d: closed-form posterior (x = {x0}, y = {yv})")
    lhs, rhs = denominator_plus_plus()
    assert_identity(2 * ((1 - delta) * rho_of(1) + delta * (1 - rho_of(1))), lhs,
                    "1d: twice the helper's denominator (x = y = +1) is the key's left-hand side")
    assert_identity(lhs, rhs, "1d: (1-δ)(1 + r^{t-1}) + δ(1 - r^{t-1}) = 1 + r^t")
    for x0 in SIGNS:
        assert_identity(rho_of(x0), (1 - smoothing_epsilon()) * sp.Rational(1 + x0, 2)
                        + smoothing_epsilon() / 2, f"1d/e: rho is a smoothed label (x = {x0})")

    # (e)
    for x0 in SIGNS:
        for yv in SIGNS:
            target = posterior_plus_closed(yv, x0, 1)
            if sp.simplify(target - sp.Rational(1 + x0, 2)) != 0:
                raise AssertionError(f"1e: at t = 1 the target should be a point mass on x (x={x0}, y={yv})")
        # KL at a point mass: limit of the general formula, and equal to BCE
        lim = sp.limit(bernoulli_kl(p, q), p, sp.Rational(1 + x0, 2), "-" if x0 == 1 else "+")
        assert_identity(_in_odds(lim), _in_odds(bernoulli_kl_point_mass(x0)),
                        f"1e: KL against a point mass on {x0}")
        assert_identity(bernoulli_kl_point_mass(x0), binary_cross_entropy(x0),
                        f"1e: point-mass KL equals binary cross-entropy (x = {x0})")
    assert_identity(bernoulli_kl(p, p), 0, "1e: KL(p||p) = 0")
    assert_identity(kl_derivative_in_q(), (q - p) / (q * (1 - q)),
                    "1e: dKL/dq = (q-p)/(q(1-q)): decreasing for q<p, increasing for q>p, so KL >= 0")
    assert_identity(kl_derivative_in_logit(), q - p,
                    "1e: with q = sigmoid(z), dKL/dz = q - p (soft-label cross-entropy gradient)")
    grid = rationals(["1/20", "1/5", "1/3", "1/2", "2/3", "9/10", "99/100"])
    for pv in grid:
        for qv in grid:
            val = bernoulli_kl(pv, qv).evalf(30)
            if val < 0:
                raise AssertionError(f"1e: KL(Bern({pv})||Bern({qv})) = {val} < 0")
    p_open = sp.Symbol("p_open", positive=True)
    blow = sp.limit(bernoulli_kl(p_open, q), q, 0, "+")
    if blow != sp.oo:
        raise AssertionError(f"1e: KL should blow up as q -> 0 when p > 0, got {blow}")
    p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
    joint = sum(pa * pb * sp.log(pa * pb / (qa * qb))
                for pa, qa in ((p1, q1), (1 - p1, 1 - q1)) for pb, qb in ((p2, q2), (1 - p2, 1 - q2)))
    assert_identity(sp.expand(sp.expand_log(joint, force=True)),
                    sp.expand(sp.expand_log(bernoulli_kl(p1, q1) + bernoulli_kl(p2, q2), force=True)),
                    "1e: KL of independent pixels is the sum of per-pixel KLs")
    for x0 in SIGNS:
        assert_identity(expected_posterior_given_x(x0), rho_of(x0),
                        f"1e: averaging the target over Y_t gives rho (x = {x0})")
    for x0 in SIGNS:
        lim_rho = limit_large_t(rho_of(x0))
        if lim_rho != sp.Rational(1, 2):
            raise AssertionError(f"1e: rho should tend to 1/2 as t grows (x={x0}), got {lim_rho}")
        for yv in SIGNS:
            lim_post = limit_large_t(posterior_plus_closed(yv, x0))
            assert_identity(lim_post, flip_kernel(1, yv),
                            f"1e: large-t posterior target forgets x (x={x0}, y={yv})")

    # the slower checks last: (b) by the eigen-decomposition, (d) by brute force on the chain
    Mt = matrix_power_closed_form()
    for row, x0 in enumerate(SIGNS):
        for col, val in enumerate(SIGNS):
            assert_identity(Mt[row, col], marginal(val, x0),
                            f"1b: (M^t)[{x0},{val}] from the eigen-decomposition")
    for x0 in SIGNS:
        for yv in SIGNS:
            for d in DELTAS[:5]:
                for n in range(1, 7):
                    got = posterior_by_enumeration(yv, x0, n, d)
                    want = posterior_plus_closed(yv, x0, n).subs(delta, d)
                    if sp.simplify(got - want) != 0:
                        raise AssertionError(
                            f"1d: enumeration disagrees at x={x0}, y={yv}, t={n}, δ={d}: {got} vs {want}")


@lru_cache(maxsize=None)
def key_values() -> dict:
    rr = add(1, -2 * delta)  # displayed as 1 - 2 delta
    tm1 = add(t, -1)
    vals = {}
    vals["q1a_flip_prob"] = tex(flip_prob_of_replacement_view())
    vals["q1a_not_replaced"] = shown_as(sp.Pow(rr, T, evaluate=False), not_replaced_prob(), "1a")
    vals["q1a_replaced"] = shown_as(add(1, -sp.Pow(rr, T, evaluate=False)), 1 - not_replaced_prob(), "1a")
    vals["q1a_limit"] = tex(limit_not_replaced_symbolic())
    vals["q1b_keep_prob"] = shown_as(sp.Pow(rr, t, evaluate=False), r ** t, "1b keep")
    vals["q1b_marginal_plus"] = shown_as(frac(add(1, mul(x, sp.Pow(rr, t, evaluate=False))), 2),
                                         marginal_plus(), "1b marginal")
    vals["q1b_flip_matrix"] = tex(flip_matrix())
    vals["q1b_eigenvalues"] = ", ".join(tex(e) for e in eigenvalues())
    Mt_display = sp.Matrix([[frac(add(1, sp.Pow(rr, t, evaluate=False)), 2), frac(add(1, -sp.Pow(rr, t, evaluate=False)), 2)],
                            [frac(add(1, -sp.Pow(rr, t, evaluate=False)), 2), frac(add(1, sp.Pow(rr, t, evaluate=False)), 2)]])
    Mt = matrix_power_closed_form()
    for i in range(2):
        for j in range(2):
            assert_identity(Mt_display[i, j].doit(), Mt[i, j], "display of M^t")
    vals["q1b_matrix_power"] = tex(Mt_display)
    (choice,) = probability_activations()
    vals["q1c_answer"] = tex(sp.Eq(sp.Function("sigma")(z_act), activations()[choice], evaluate=False))
    rng = activation_ranges()
    vals["q1c_sigmoid_range"] = rf"({tex(rng['sigmoid'][0])}, {tex(rng['sigmoid'][1])})"
    vals["q1c_relu_range"] = rf"[{tex(rng['relu'][0])}, {tex(rng['relu'][1])})"
    vals["q1c_tanh_range"] = rf"({tex(rng['tanh'][0])}, {tex(rng['tanh'][1])})"
    vals["q1d_rho"] = shown_as(frac(add(1, mul(x, sp.Pow(rr, tm1, evaluate=False))), 2), rho_of(), "1d rho")
    vals["q1d_rho_x_minus"] = shown_as(frac(add(1, -sp.Pow(rr, tm1, evaluate=False)), 2), rho_of(-1), "1d rho-")
    vals["q1d_post_y_plus"] = shown_as(
        frac(mul(add(1, -delta), rho), add(mul(add(1, -delta), rho), mul(delta, add(1, -rho)))),
        helper_posterior_plus(1), "1d y=+1")
    vals["q1d_post_y_minus"] = shown_as(
        frac(mul(delta, rho), add(mul(delta, rho), mul(add(1, -delta), add(1, -rho)))),
        helper_posterior_plus(-1), "1d y=-1")
    vals["q1d_post_closed"] = shown_as(
        frac(mul(add(1, mul(y, rr)), add(1, mul(x, sp.Pow(rr, tm1, evaluate=False)))),
             mul(2, add(1, mul(x, y, sp.Pow(rr, t, evaluate=False))))),
        posterior_plus_closed(), "1d closed")
    cases = {("plus", "plus"): (1, 1), ("plus", "minus"): (1, -1),
             ("minus", "plus"): (-1, 1), ("minus", "minus"): (-1, -1)}
    for (xs, ys), (xv, yv) in cases.items():
        num_k = add(1, -delta) if yv == 1 else delta
        num_r = add(1, sp.Pow(rr, tm1, evaluate=False)) if xv == 1 else add(1, -sp.Pow(rr, tm1, evaluate=False))
        den = add(1, sp.Pow(rr, t, evaluate=False)) if xv * yv == 1 else add(1, -sp.Pow(rr, t, evaluate=False))
        vals[f"q1d_post_x{xs}_y{ys}"] = shown_as(frac(mul(num_k, num_r), den),
                                               posterior_bayes_cached(yv, xv), f"1d x={xv} y={yv}")
    rs = sp.Symbol("r")
    r_subs = {rs: r}
    vals["q1d_denominator_identity"] = (
        shown_as(add(mul(add(1, -delta), add(1, sp.Pow(rs, tm1, evaluate=False))),
                     mul(delta, add(1, -sp.Pow(rs, tm1, evaluate=False)))), denominator_plus_plus()[0],
                 "1d denominator", r_subs)
        + " = " + shown_as(add(1, sp.Pow(rs, t, evaluate=False)), denominator_plus_plus()[1],
                           "1d collapsed denominator", r_subs))
    vals["q1e_kl_bernoulli"] = shown_as(
        add(mul(p, sp.log(frac(p, q), evaluate=False)),
            mul(add(1, -p), sp.log(frac(add(1, -p), add(1, -q)), evaluate=False))),
        bernoulli_kl(), "1e KL")
    vals["q1e_kl_t1_plus"] = tex(bernoulli_kl_point_mass(1))
    vals["q1e_kl_t1_minus"] = tex(bernoulli_kl_point_mass(-1))
    vals["q1e_kl_dq"] = shown_as(frac(add(q, -p), mul(q, add(1, -q))), kl_derivative_in_q(), "1e dKL/dq")
    vals["q1e_kl_dlogit"] = shown_as(add(q, -p), kl_derivative_in_logit(), "1e dKL/dz")
    vals["q1e_smoothing_eps"] = shown_as(add(1, -sp.Pow(rr, tm1, evaluate=False)), smoothing_epsilon(), "1e eps")
    vals["q1e_rho_limit"] = tex(limit_large_t(rho_of(1)))
    vals["q1e_post_limit"] = shown_as(frac(add(1, mul(y, rr)), 2), limit_large_t(posterior_plus_closed()),
                                      "1e posterior limit")
    return vals


@lru_cache(maxsize=None)
def posterior_bayes_cached(y_value: int, x_value: int) -> sp.Expr:
    return posterior_plus_bayes(y_value, x_value)

"""Q2: Gaussian (DDPM) diffusion.

Conventions: beta_t is the variance of step t (t = 1..T), alpha_t = 1 - beta_t and
alphabar_t = prod_{i<=t} alpha_i with alphabar_0 = 1 (Ho et al. 2020, eq. 4). Everything is 1-D:
the covariances are multiples of I, so each coordinate behaves like the scalar case.

Symbols used for the posterior (Ho et al. 2020, eqs. 6-7):
``beta`` = beta_t, ``abp`` = alphabar_{t-1}, and alphabar_t = (1 - beta) * abp.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ._common import add, assert_differs, assert_identity, frac, mul, rationals, shown_as, tex

beta = sp.Symbol("beta_t", positive=True)            # beta_t in (0, 1)
abp = sp.Symbol("alphabar_t-1", positive=True)       # alphabar_{t-1} in (0, 1]
abt_display = sp.Symbol("alphabar_t", positive=True)  # display-only stand-in for (1 - beta) * abp
x_t = sp.Symbol("x_t", real=True)
x_0 = sp.Symbol("x_0", real=True)
x_prev = sp.Symbol("x_t-1", real=True)
eps = sp.Symbol("epsilon", real=True)

alpha = 1 - beta
abt = alpha * abp                               # alphabar_t = (1 - beta_t) alphabar_{t-1}
sqrt_abt = sp.sqrt(alpha) * sp.sqrt(abp)        # both factors are positive, so this is sqrt(abt)
ABT_SUBS = {abt_display: abt}

# points used to exhibit counterexamples to the handout's slips
COUNTEREXAMPLE = {beta: sp.Rational(1, 10), abp: sp.Rational(1, 2)}


# ---------------------------------------------------------------------------------------------
# (a) closed-form marginal q(x_t | x_0)
# ---------------------------------------------------------------------------------------------
def compose_steps(mean_coef, var, beta_next):
    """If x_{t-1} = mean_coef*x_0 + sqrt(var)*eps', then one more step
    x_t = sqrt(1 - beta_next) x_{t-1} + sqrt(beta_next) eps gives these (mean_coef, var):
    independent Gaussian noises add their variances."""
    return sp.sqrt(1 - beta_next) * mean_coef, (1 - beta_next) * var + beta_next


def gaussian_sum_char_fn(s1, s2):
    """Characteristic functions of N(0, s1^2) + N(0, s2^2) and of N(0, s1^2 + s2^2)."""
    w = sp.Symbol("omega", real=True)
    cf = lambda var: sp.exp(-var * w ** 2 / 2)  # noqa: E731
    return cf(s1 ** 2) * cf(s2 ** 2), cf(s1 ** 2 + s2 ** 2)


def unrolled_marginal(n_steps: int):
    """Run compose_steps from x_0 (mean_coef 1, var 0) with symbolic beta_1..beta_n.

    Returns (mean_coef, var, prod_{i<=n}(1 - beta_i)). The betas are written beta_i = 1 - g_i with
    g_i > 0 so that sympy may multiply square roots.
    """
    g = sp.symbols(f"g1:{n_steps + 1}", positive=True)
    mean_coef, var = sp.Integer(1), sp.Integer(0)
    for gi in g:
        mean_coef, var = compose_steps(mean_coef, var, 1 - gi)
    return mean_coef, var, sp.Mul(*g)


def one_step_marginal_by_integration():
    """q(x_t|x_0) = int q(x_t|x_{t-1}) q(x_{t-1}|x_0) dx_{t-1}, for numeric schedule values.

    Returns (integral, closed form N(x_t; sqrt(abt) x_0, 1 - abt)) at beta = 1/5, abp = 1/2.
    """
    b, ap = sp.Rational(1, 5), sp.Rational(1, 2)
    normal = lambda z, m, v: sp.exp(-(z - m) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)  # noqa: E731
    integrand = normal(x_t, sp.sqrt(1 - b) * x_prev, b) * normal(x_prev, sp.sqrt(ap) * x_0, 1 - ap)
    integral = sp.integrate(integrand, (x_prev, -sp.oo, sp.oo))
    closed = normal(x_t, sp.sqrt((1 - b) * ap) * x_0, 1 - (1 - b) * ap)
    return integral, closed


# ---------------------------------------------------------------------------------------------
# (b) posterior q(x_{t-1} | x_t, x_0) by completing the square
# ---------------------------------------------------------------------------------------------
def posterior_exponent() -> sp.Expr:
    """-2 log of q(x_t|x_{t-1}) q(x_{t-1}|x_0) / q(x_t|x_0), without the normalising constants."""
    return ((x_t - sp.sqrt(alpha) * x_prev) ** 2 / beta
            + (x_prev - sp.sqrt(abp) * x_0) ** 2 / (1 - abp)
            - (x_t - sqrt_abt * x_0) ** 2 / (1 - abt))


def posterior_normaliser_ratio() -> sp.Expr:
    """Variance product of the three Gaussian normalisers: beta (1-abp) / (1-abt)."""
    return beta * (1 - abp) / (1 - abt)


def complete_the_square():
    """Write the exponent as A x^2 - 2 B x + C in x = x_{t-1}.

    Returns (A, B, C): precision A, 'linear term' B, so variance = 1/A and mean = B/A.
    """
    poly = sp.Poly(sp.expand(posterior_exponent()), x_prev)
    A = sp.factor(poly.coeff_monomial(x_prev ** 2))
    B = sp.factor(-poly.coeff_monomial(x_prev) / 2)
    C = poly.coeff_monomial(1)
    return A, B, C


@lru_cache(maxsize=None)
def posterior_mean_variance():
    """(mean, variance, coefficient on x_t, coefficient on x_0) of q(x_{t-1} | x_t, x_0)."""
    A, B, _ = complete_the_square()
    var = sp.factor(1 / A)
    mean = sp.expand(sp.simplify(B / A))
    coef_xt = sp.factor(mean.coeff(x_t))
    coef_x0 = sp.factor(mean.coeff(x_0))
    return mean, var, coef_xt, coef_x0


def correct_forms() -> dict:
    """The closed forms the key states, written with alphabar_t = (1 - beta_t) alphabar_{t-1}."""
    return {
        "precision": alpha / beta + 1 / (1 - abp),
        "linear_x0": sp.sqrt(abp) / (1 - abp),
        "variance": (1 - abp) * beta / (1 - abt),
        "coef_xt": sp.sqrt(alpha) * (1 - abp) / (1 - abt),
        "coef_x0": sp.sqrt(abp) * beta / (1 - abt),
    }


def seed_erratum_forms() -> dict:
    """Slips found in the handout's 2(b) write-up (each is checked to be wrong by verify())."""
    return {
        # numerator 1 - alphabar_t instead of 1 - alphabar_{t-1}: collapses to sqrt(1 - beta_t)
        "coef_xt": sp.sqrt(alpha) * (1 - abt) / (1 - abt),
        # the prior term of the precision uses 1/(1 - alphabar_t) instead of 1/(1 - alphabar_{t-1})
        "precision": alpha / beta + 1 / (1 - abt),
        # the x_0 part of the linear term uses sqrt(alphabar_t)/(1 - alphabar_t)
        "linear_x0": sqrt_abt / (1 - abt),
        # the question states the posterior variance as beta_t instead of beta-tilde_t
        "variance": beta,
    }


def mean_in_terms_of_noise() -> sp.Expr:
    """Substitute x_0 = (x_t - sqrt(1-abt) eps) / sqrt(abt) into the posterior mean (DDPM eq. 10)."""
    mean, *_ = posterior_mean_variance()
    return mean.subs(x_0, (x_t - sp.sqrt(1 - abt) * eps) / sqrt_abt)


def verify() -> None:
    # (a) one step of composition, the induction step, and the unrolled product
    s1, s2 = sp.symbols("s1 s2", positive=True)
    lhs, rhs = gaussian_sum_char_fn(s1, s2)
    assert_identity(lhs, rhs, "2a: the sum of independent zero-mean Gaussians adds variances")
    mean_coef, var = compose_steps(sp.sqrt(abp), 1 - abp, beta)
    assert_identity(mean_coef, sqrt_abt, "2a: induction step, mean coefficient sqrt(alphabar_t)")
    assert_identity(var, 1 - abt, "2a: induction step, variance 1 - alphabar_t")
    for n in range(1, 7):
        m, v, prod = unrolled_marginal(n)
        assert_identity(m, sp.sqrt(prod), f"2a: unrolled {n} steps, mean coefficient")
        assert_identity(v, 1 - prod, f"2a: unrolled {n} steps, variance")

    # (b) completing the square
    A, B, C = complete_the_square()
    forms = correct_forms()
    mean, var, coef_xt, coef_x0 = posterior_mean_variance()
    assert_identity(A, forms["precision"], "2b: precision (coefficient of x_{t-1}^2)")
    assert_identity(B, sp.sqrt(alpha) / beta * x_t + forms["linear_x0"] * x_0,
                    "2b: linear coefficient of x_{t-1}")
    assert_identity(var, forms["variance"], "2b: posterior variance beta-tilde_t")
    assert_identity(coef_xt, forms["coef_xt"], "2b: posterior mean coefficient on x_t")
    assert_identity(coef_x0, forms["coef_x0"], "2b: posterior mean coefficient on x_0")
    # the exponent is exactly (x - mean)^2 / var (the leftover constant vanishes) and the three
    # normalisers combine into 1/sqrt(2 pi var): the posterior is exactly this Gaussian
    assert_identity(posterior_exponent(), (x_prev - mean) ** 2 / var,
                    "2b: exponent equals (x_{t-1} - mean)^2 / variance with no leftover")
    assert_identity(C, B ** 2 / A, "2b: completing the square leaves no constant (C = B^2 / A)")
    assert_identity(posterior_normaliser_ratio(), var, "2b: normalising constants match the variance")
    assert_identity(mean_in_terms_of_noise(), (x_t - beta / sp.sqrt(1 - abt) * eps) / sp.sqrt(alpha),
                    "2b: mean in noise form (x_t - beta_t eps / sqrt(1 - alphabar_t)) / sqrt(1 - beta_t)")
    # beta-tilde_t <= beta_t (equality only when alphabar_{t-1} = 1, i.e. t = 1)
    assert_identity(beta - var, beta ** 2 * abp / (1 - abt), "2b: beta_t - beta-tilde_t")
    for b in rationals(["1/1000", "1/10", "1/2", "9/10"]):
        for a in rationals(["1/100", "1/2", "99/100"]):
            if not (var.subs({beta: b, abp: a}) < b):
                raise AssertionError(f"2b: beta-tilde should be below beta at beta={b}, abp={a}")
    if var.subs(abp, 1) != 0:
        raise AssertionError("2b: at t = 1 (alphabar_0 = 1) the posterior variance should be 0")

    # the handout's slips really are wrong
    for name, seed in seed_erratum_forms().items():
        assert_differs(seed, forms[name], COUNTEREXAMPLE, f"2b erratum '{name}'")

    # (a) once more, by integration (the slowest check, so it runs last)
    integral, closed = one_step_marginal_by_integration()
    assert_identity(integral, closed, "2a: integrating out x_{t-1} gives the closed-form marginal")


def erratum_counterexamples() -> dict:
    """name -> (value of the handout's form, value of the correct form) at COUNTEREXAMPLE."""
    forms = correct_forms()
    return {name: (sp.nsimplify(sp.simplify(seed.subs(COUNTEREXAMPLE))),
                   sp.nsimplify(sp.simplify(forms[name].subs(COUNTEREXAMPLE))))
            for name, seed in seed_erratum_forms().items()}


@lru_cache(maxsize=None)
def key_values() -> dict:
    i = sp.Symbol("i", integer=True, positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    beta_i = sp.Symbol("beta_i")
    one_m_beta = add(1, -beta)
    one_m_abp = add(1, -abp)
    one_m_abt = add(1, -abt_display)
    mean, var, coef_xt, coef_x0 = posterior_mean_variance()
    A, B, _ = complete_the_square()
    b_prev = sp.Symbol("beta_t-1", positive=True)
    two_mean, two_var = compose_steps(sp.sqrt(1 - b_prev), b_prev, beta)

    vals = {}
    vals["q2a_alpha_bar"] = tex(sp.Product(add(1, -beta_i), (i, 1, t)))
    vals["q2a_recursion"] = shown_as(mul(one_m_beta, abp), abt, "2a recursion")
    vals["q2a_two_step_mean"] = shown_as(sp.sqrt(mul(one_m_beta, add(1, -b_prev))), two_mean, "2a two-step mean",
                                         )
    vals["q2a_two_step_var"] = shown_as(add(1, -mul(one_m_beta, add(1, -b_prev))), two_var, "2a two-step var")
    vals["q2a_two_step_var_sum"] = shown_as(add(mul(one_m_beta, b_prev), beta), two_var, "2a two-step var, sum")
    step_mean, step_var = compose_steps(sp.sqrt(abp), 1 - abp, beta)
    vals["q2a_step_mean"] = shown_as(mul(sp.sqrt(one_m_beta), sp.sqrt(abp)), step_mean, "2a induction step, mean")
    vals["q2a_step_var"] = shown_as(add(mul(one_m_beta, one_m_abp), beta), step_var, "2a induction step, variance")
    vals["q2a_mean_coef"] = shown_as(sp.sqrt(abt_display), sqrt_abt, "2a mean", ABT_SUBS)
    vals["q2a_var"] = shown_as(one_m_abt, 1 - abt, "2a var", ABT_SUBS)
    vals["q2b_precision"] = shown_as(add(frac(one_m_beta, beta), frac(1, one_m_abp)), A, "2b precision")
    vals["q2b_linear"] = shown_as(add(mul(frac(sp.sqrt(one_m_beta), beta), x_t), mul(frac(sp.sqrt(abp), one_m_abp), x_0)),
                                  B, "2b linear term")
    vals["q2b_variance"] = shown_as(frac(mul(one_m_abp, beta), one_m_abt), var, "2b variance", ABT_SUBS)
    vals["q2b_coef_xt"] = shown_as(frac(mul(sp.sqrt(one_m_beta), one_m_abp), one_m_abt), coef_xt,
                                   "2b coef x_t", ABT_SUBS)
    vals["q2b_coef_x0"] = shown_as(frac(mul(sp.sqrt(abp), beta), one_m_abt), coef_x0, "2b coef x_0", ABT_SUBS)
    vals["q2b_mean"] = shown_as(add(mul(frac(mul(sp.sqrt(one_m_beta), one_m_abp), one_m_abt), x_t),
                                    mul(frac(mul(sp.sqrt(abp), beta), one_m_abt), x_0)), mean, "2b mean", ABT_SUBS)
    vals["q2b_mean_eps"] = shown_as(
        mul(frac(1, sp.sqrt(one_m_beta)), add(x_t, -mul(frac(beta, sp.sqrt(one_m_abt)), eps))),
        mean_in_terms_of_noise(), "2b mean (noise form)", ABT_SUBS)
    vals["q2b_variance_gap"] = shown_as(frac(mul(sp.Pow(beta, 2, evaluate=False), abp), one_m_abt), beta - var,
                                        "2b beta - beta-tilde", ABT_SUBS)
    vals["q2b_variance_t1"] = tex(var.subs(abp, 1))
    return vals

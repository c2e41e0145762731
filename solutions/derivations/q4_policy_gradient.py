"""Q4: policy gradients for sequence generation (REINFORCE, Williams 1992; InstructGPT setting).

Everything is checked exactly on small models with symbolic parameters and rewards:
- a one-step categorical policy pi = softmax(theta) over 4 actions;
- a two-step autoregressive policy over the vocabulary {0, 1}, conditioned on a source x in {-1, +1}
  drawn from a fixed data distribution, with parameters shared between the steps.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import sympy as sp

from ._common import add, assert_identity, tex

N_ACTIONS = 4
theta = sp.symbols(f"theta1:{N_ACTIONS + 1}", real=True)
reward = sp.symbols(f"r1:{N_ACTIONS + 1}", real=True)
b = sp.Symbol("b", real=True)   # a baseline that does not depend on the sampled action

# two-step toy policy. Its parameters w_k enter only through u_k = exp(w_k) > 0, so every
# probability is a rational function of the u_k and d/dw_k = u_k * d/du_k (chain rule); sympy can
# then decide each identity exactly with cancel().
u = sp.symbols("u0:3", positive=True)                 # u_k = exp(w_k)
SOURCES = (-1, 1)
DATA = {-1: sp.Rational(1, 3), 1: sp.Rational(2, 3)}  # the data distribution D over sources x
VOCAB = (0, 1)
SEQS = list(itertools.product(VOCAB, repeat=2))
seq_reward = {(x, y): sp.Symbol(f"R_{'m' if x < 0 else 'p'}{y[0]}{y[1]}", real=True)
              for x in SOURCES for y in SEQS}


# ---------------------------------------------------------------------------------------------
# one-step categorical policy
# ---------------------------------------------------------------------------------------------
def softmax_policy() -> list:
    z = sum(sp.exp(th) for th in theta)
    return [sp.exp(th) / z for th in theta]


def expected_reward() -> sp.Expr:
    return sum(p * r for p, r in zip(softmax_policy(), reward))


def score_function_estimate(j: int, baseline=0) -> sp.Expr:
    """E_{a ~ pi}[(r_a - baseline) d/dtheta_j log pi_a], computed exactly."""
    pi = softmax_policy()
    return sum(pi[a] * (reward[a] - baseline) * sp.diff(sp.log(pi[a]), theta[j]) for a in range(N_ACTIONS))


def softmax_score(a: int, j: int) -> sp.Expr:
    """d/dtheta_j log softmax(theta)_a."""
    return sp.diff(sp.log(softmax_policy()[a]), theta[j])


# ---------------------------------------------------------------------------------------------
# two-step autoregressive policy
# ---------------------------------------------------------------------------------------------
def d_dw(expr: sp.Expr, k: int) -> sp.Expr:
    """Derivative with respect to the parameter w_k = log u_k."""
    return u[k] * sp.diff(expr, u[k])


def step_odds(x, prefix) -> sp.Expr:
    """exp(logit of token 1) given the source x and the previous tokens; the logit is
    w0 + w1*x (+ w2*(2*y_prev - 1) after the first step), token 0 has logit 0."""
    o = u[0] * u[1] ** x
    if prefix:
        o *= u[2] ** (2 * prefix[-1] - 1)
    return o


def token_prob(token, x, prefix) -> sp.Expr:
    """P(y_i = token | y_<i = prefix, x): a softmax over the two tokens."""
    o = step_odds(x, prefix)
    return (o if token == 1 else 1) / (1 + o)


def sequence_prob(x, y) -> sp.Expr:
    """P(y | x) as the product of the per-step conditionals (chain rule of probability)."""
    return sp.Mul(*[token_prob(y[i], x, y[:i]) for i in range(len(y))])


def sequence_log_prob_sum(x, y) -> sp.Expr:
    """sum_i log P(y_i | y_<i, x)."""
    return sum(sp.log(token_prob(y[i], x, y[:i])) for i in range(len(y)))


def sequence_objective() -> sp.Expr:
    """J(w) = E_{x ~ D, y ~ P_w(. | x)} r(x, y), by exact enumeration."""
    return sum(DATA[x] * sequence_prob(x, y) * seq_reward[(x, y)] for x in SOURCES for y in SEQS)


def sequence_policy_gradient(k: int, baseline=0) -> sp.Expr:
    """E[(r(x, y) - baseline) sum_i d/dw_k log P(y_i | y_<i, x)], by exact enumeration."""
    return sum(DATA[x] * sequence_prob(x, y) * (seq_reward[(x, y)] - baseline)
               * d_dw(sequence_log_prob_sum(x, y), k) for x in SOURCES for y in SEQS)


def per_step_rewards(x, y) -> list:
    """Reward only at the end: Reward(s_i, a_i) = r(x, y) if i = n else 0."""
    n = len(y)
    return [seq_reward[(x, y)] if i == n - 1 else 0 for i in range(n)]


def policy_gradient_surrogate(x, y, r) -> sp.Expr:
    """Per-sample term of the policy-gradient loss: -r * sum_i log P(y_i | y_<i, x)."""
    return -r * sequence_log_prob_sum(x, y)


def cross_entropy(x, y) -> sp.Expr:
    """Supervised sequence cross-entropy of a labelled pair (x, y): -sum_i log P(y_i | y_<i, x)."""
    return -sum(sp.log(token_prob(y[i], x, y[:i])) for i in range(len(y)))


# exact rational parameter values (u_k = exp(w_k)) for the checks of whole expectations
U_POINTS = [tuple(sp.Rational(v) for v in p) for p in
            (("1", "1", "1"), ("1/3", "2", "5/2"), ("7/4", "1/5", "3"), ("4", "3/7", "1/2"), ("2/9", "6", "9/8"))]


def assert_zero_on_grid(expr, claim):
    """Check an identity exactly at each point of U_POINTS (rewards and baseline stay symbolic)."""
    for point in U_POINTS:
        val = sp.expand(expr.xreplace(dict(zip(u, point))))
        if val != 0:
            raise AssertionError(f"{claim}: fails at u = exp(w) = {point}: residual {val}")


def assert_zero(expr, claim):
    """Decide a rational-function identity (softmax terms are rewritten in v = exp(theta)).

    The expressions are affine in the rewards and the baseline, so each coefficient is decided
    separately (smaller rational functions, much faster than one big cancel()).
    """
    linear = [s for s in (*reward, *seq_reward.values(), b) if s in expr.free_symbols]
    parts = [expr.subs({s: 0 for s in linear})] + [sp.diff(expr, s) for s in linear]
    for part in parts:
        e = sp.expand_log(part, force=True)   # every log argument here is a positive quantity
        e = e.subs({sp.exp(th): sp.Symbol(f"v_{th}", positive=True) for th in theta})
        if sp.cancel(sp.together(e)) != 0:
            raise AssertionError(f"{claim}: not identically zero: {sp.simplify(expr)}")


def verify() -> None:
    pi = softmax_policy()
    J = expected_reward()
    for j in range(N_ACTIONS):
        assert_zero(sp.diff(J, theta[j]) - score_function_estimate(j),
                    f"4a: score-function identity for softmax, d/dtheta_{j + 1}")
        assert_zero(score_function_estimate(j, baseline=b) - score_function_estimate(j),
                    f"4b: a constant baseline leaves the expected gradient unchanged (theta_{j + 1})")
        assert_zero(sum(pi[a] * softmax_score(a, j) for a in range(N_ACTIONS)),
                    f"4b: E[grad log pi] = 0 (theta_{j + 1})")
        for a in range(N_ACTIONS):
            want = (1 if a == j else 0) - pi[j]
            assert_zero(softmax_score(a, j) - want, f"4a: d log softmax_{a + 1} / dtheta_{j + 1}")

    for x in SOURCES:
        assert_zero(sum(sequence_prob(x, y) for y in SEQS) - 1, f"4a: P(. | x = {x}) sums to 1")
        for y in SEQS:
            # log of the chain-rule product is the sum of per-token log-probabilities
            assert_zero(sp.log(sequence_prob(x, y)) - sequence_log_prob_sum(x, y),
                        f"4a: log P(y|x) = sum_i log P(y_i|y_<i,x) for x={x}, y={y}")
            for k in range(len(u)):
                P = sequence_prob(x, y)
                assert_zero(d_dw(P, k) - P * d_dw(sequence_log_prob_sum(x, y), k),
                            f"4a: grad P = P grad log P for x={x}, y={y}, w_{k}")
            if sum(per_step_rewards(x, y)) != seq_reward[(x, y)]:
                raise AssertionError("4a: the per-step rewards should sum to r(x, y)")
            assert_identity(policy_gradient_surrogate(x, y, 1), cross_entropy(x, y),
                            f"4b: with r = 1 the policy-gradient term is the cross-entropy (x={x}, y={y})")
        for k in range(len(u)):
            assert_zero(sum(sequence_prob(x, y) * d_dw(sequence_log_prob_sum(x, y), k) for y in SEQS),
                        f"4b: E_y[grad log P(y|x)] = 0 for x={x}, w_{k}")
    # whole expectations over x ~ D and y ~ P(.|x), exactly at rational parameter values
    J_seq = sequence_objective()
    ystar = {-1: (0, 1), 1: (1, 1)}
    J_ind = sum(DATA[x] * sequence_prob(x, ystar[x]) for x in SOURCES)
    for k in range(len(u)):
        pg = sequence_policy_gradient(k)
        assert_zero_on_grid(d_dw(J_seq, k) - pg,
                            f"4a: sequence policy gradient equals d/dw_{k} E[r] (exact enumeration)")
        assert_zero_on_grid(sequence_policy_gradient(k, baseline=b) - pg,
                            f"4b: baseline leaves the sequence policy gradient unchanged (w_{k})")
        # indicator reward r = 1[y = y*]: policy gradient = P(y*|x) * (supervised gradient of log P(y*|x))
        ind = sum(DATA[x] * sequence_prob(x, ystar[x]) * d_dw(sequence_log_prob_sum(x, ystar[x]), k)
                  for x in SOURCES)
        assert_zero_on_grid(d_dw(J_ind, k) - ind,
                            f"4b: indicator reward gives P(y*|x)-weighted supervised gradient (w_{k})")


@lru_cache(maxsize=None)
def key_values() -> dict:
    a, j = sp.symbols("a j", integer=True)
    pi_j = sp.Symbol("pi_j")
    general = add(sp.KroneckerDelta(a, j), -pi_j)
    pi = softmax_policy()
    for av in range(N_ACTIONS):
        for jv in range(N_ACTIONS):
            want = general.doit().subs({a: av, j: jv}).subs(pi_j, pi[jv])
            assert_zero(softmax_score(av, jv) - want, "display of the softmax score")
    mean_score = sp.cancel(sp.together(sum(pi[av] * softmax_score(av, 0) for av in range(N_ACTIONS))))
    return {
        "q4a_softmax_score": tex(general),
        "q4b_score_mean": tex(mean_score),
    }

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

from ._common import add, tex

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
    """Supervised sequence cross-entropy of a labelled pair (x, y): -log P(y | x), with P(y | x) the
    probability of the whole sequence (the chain-rule product of sequence_prob)."""
    return -sp.log(sequence_prob(x, y))


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


def check_softmax_policy() -> None:
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


def check_log_derivative() -> None:
    """grad P = P grad log P, for every sequence and parameter of the two-step policy."""
    for x in SOURCES:
        for y in SEQS:
            P = sequence_prob(x, y)
            for k in range(len(u)):
                assert_zero(d_dw(P, k) - P * d_dw(sp.log(P), k),
                            f"4a: grad P = P grad log P for x={x}, y={y}, w_{k}")


def check_chain_rule() -> None:
    """P(. | x) is a distribution and log P(y | x) = sum_i log P(y_i | y_<i, x)."""
    for x in SOURCES:
        assert_zero(sum(sequence_prob(x, y) for y in SEQS) - 1, f"4a: P(. | x = {x}) sums to 1")
        for y in SEQS:
            assert_zero(sp.log(sequence_prob(x, y)) - sequence_log_prob_sum(x, y),
                        f"4a: log P(y|x) = sum_i log P(y_i|y_<i,x) for x={x}, y={y}")
            if sum(per_step_rewards(x, y)) != seq_reward[(x, y)]:
                raise AssertionError("4a: the per-step rewards should sum to r(x, y)")


def check_policy_gradient() -> None:
    """grad E[r] = E[r sum_i grad log P(y_i | y_<i, x)] over x ~ D, y ~ P(. | x), exactly."""
    J_seq = sequence_objective()
    for k in range(len(u)):
        assert_zero_on_grid(d_dw(J_seq, k) - sequence_policy_gradient(k),
                            f"4a: sequence policy gradient equals d/dw_{k} E[r] (exact enumeration)")


def check_same_term() -> None:
    """With r = 1 the per-example policy-gradient term is the supervised cross-entropy."""
    for x in SOURCES:
        for y in SEQS:
            assert_zero(policy_gradient_surrogate(x, y, 1) - cross_entropy(x, y),
                        f"4b: with r = 1 the policy-gradient term is the cross-entropy (x={x}, y={y})")


def check_score_mean() -> None:
    """E_y[grad log P(y | x)] = 0 for every source."""
    for x in SOURCES:
        for k in range(len(u)):
            assert_zero(sum(sequence_prob(x, y) * d_dw(sequence_log_prob_sum(x, y), k) for y in SEQS),
                        f"4b: E_y[grad log P(y|x)] = 0 for x={x}, w_{k}")


def check_baseline() -> None:
    """E[(r - b) grad log P] = E[r grad log P] for a baseline b that does not depend on y."""
    for k in range(len(u)):
        assert_zero_on_grid(sequence_policy_gradient(k, baseline=b) - sequence_policy_gradient(k),
                            f"4b: baseline leaves the sequence policy gradient unchanged (w_{k})")


def check_indicator() -> None:
    """Reward 1[y = y*]: the policy gradient is P(y*|x) grad log P(y*|x), the scaled supervised one."""
    ystar = {-1: (0, 1), 1: (1, 1)}
    J_ind = sum(DATA[x] * sequence_prob(x, ystar[x]) for x in SOURCES)
    for k in range(len(u)):
        via_rewards = sum(DATA[x] * sequence_prob(x, y) * (1 if y == ystar[x] else 0)
                          * d_dw(sequence_log_prob_sum(x, y), k) for x in SOURCES for y in SEQS)
        scaled = sum(DATA[x] * sequence_prob(x, ystar[x]) * d_dw(sp.log(sequence_prob(x, ystar[x])), k)
                     for x in SOURCES)
        assert_zero_on_grid(d_dw(J_ind, k) - via_rewards,
                            f"4b: indicator reward, policy gradient by enumeration (w_{k})")
        assert_zero_on_grid(via_rewards - scaled,
                            f"4b: indicator reward gives the P(y*|x)-weighted supervised gradient (w_{k})")


# The general formulas the key states in its prose, each with the check that proves it on the
# two-step policy (key_values runs the check before it hands the formula to the key).
CLAIMS = {
    "q4a_log_derivative": (r"\nabla_\theta \mathbf{P}_\theta = \mathbf{P}_\theta \nabla_\theta \log \mathbf{P}_\theta",
                           check_log_derivative),
    "q4a_chain_rule": (r"\log \mathbf{P}_\theta(\mathbf{y} \mid \mathbf{x}) = \sum_{i=1}^{n} \log "
                       r"\mathbf{P}_\theta(y_i \mid y_1, \dots, y_{i-1}, \mathbf{x})", check_chain_rule),
    "q4a_policy_gradient": (r"\nabla_\theta J(\theta) = \mathbb{E}_{\mathbf{x} \sim \mathcal{D},\ \mathbf{y} \sim "
                            r"\mathbf{P}_\theta(\cdot \mid \mathbf{x})}\left[ r(\mathbf{x}, \mathbf{y})\, \sum_{i=1}^{n} "
                            r"\nabla_\theta \log \mathbf{P}_\theta(y_i \mid y_1, \dots, y_{i-1}, \mathbf{x}) \right]",
                            check_policy_gradient),
    "q4b_same_term": (r"-1 \cdot \sum_{i=1}^{n} \log \mathbf{P}_\theta(y_i \mid y_1, \dots, y_{i-1}, \mathbf{x}) "
                      r"= -\log \mathbf{P}_\theta(\mathbf{y} \mid \mathbf{x})", check_same_term),
    "q4b_baseline": (r"\mathbb{E}[(r - b)\nabla_\theta \log \mathbf{P}_\theta] = \mathbb{E}[r \nabla_\theta \log "
                     r"\mathbf{P}_\theta]", check_baseline),
    "q4b_indicator": (r"\mathbf{P}_\theta(\mathbf{y}^\star \mid \mathbf{x})\, \nabla_\theta \log "
                      r"\mathbf{P}_\theta(\mathbf{y}^\star \mid \mathbf{x})", check_indicator),
}


def verify() -> None:
    for _, check in sorted(CLAIMS.values(), key=lambda claim: claim[1] is check_policy_gradient):
        check()
    check_softmax_policy()
    check_score_mean()


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
    vals = {"q4a_softmax_score": tex(general), "q4b_score_mean": tex(mean_score)}
    for name, (latex, check) in CLAIMS.items():
        check()
        vals[name] = latex
    return vals

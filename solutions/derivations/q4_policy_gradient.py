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

# two-step toy policy
w = sp.symbols("w0:3", real=True)                     # shared parameters
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
def step_logit(x, prefix) -> sp.Expr:
    """Logit of token 1 given the source x and the previous tokens (token 0 has logit 0)."""
    s = w[0] + w[1] * x
    if prefix:
        s += w[2] * (2 * prefix[-1] - 1)
    return s


def token_prob(token, x, prefix) -> sp.Expr:
    """P(y_i = token | y_<i = prefix, x): a softmax over the two tokens."""
    s = step_logit(x, prefix)
    return sp.exp(token * s) / (1 + sp.exp(s))


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
               * sp.diff(sequence_log_prob_sum(x, y), w[k]) for x in SOURCES for y in SEQS)


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


def _zero(expr) -> bool:
    """Decide a rational identity in exp(w)'s and exp(theta)'s."""
    e = sp.expand(sp.powsimp(sp.expand(expr), combine="exp"))
    e = sp.expand(sp.expand_power_exp(e.rewrite(sp.exp)))
    syms = {ex: sp.Dummy(positive=True) for ex in e.atoms(sp.exp)}
    return sp.cancel(sp.expand(e.subs({sp.exp(s): v for s, v in _exp_gens(e).items()}))) == 0 or \
        sp.simplify(expr) == 0 if syms is not None else False


def _exp_gens(expr) -> dict:
    """Map each parameter to a positive symbol standing for its exponential."""
    params = [s for s in (*theta, *w) if s in expr.free_symbols]
    return {s: sp.Dummy(f"e_{s}", positive=True) for s in params}


def to_exponential_coordinates(expr: sp.Expr) -> sp.Expr:
    """Rewrite exp(c1*p1 + c2*p2 + ...) as prod E_i**c_i with E_i = exp(p_i) positive symbols."""
    gens = _exp_gens(expr)

    def split(e):
        arg = sp.expand(e.args[0])
        out = sp.Integer(1)
        for term in sp.Add.make_args(arg):
            coeff, rest = term.as_coeff_Mul()
            if rest in gens:
                out *= gens[rest] ** coeff
            else:
                sym = [s for s in gens if s in rest.free_symbols]
                if len(sym) != 1:
                    raise ValueError(f"cannot split exponent term {term}")
                c = sp.simplify(term / sym[0])
                if c.free_symbols:
                    raise ValueError(f"non-constant coefficient in {term}")
                out *= gens[sym[0]] ** c
        return out

    return expr.replace(lambda e: isinstance(e, sp.exp), split)


def is_identically_zero(expr: sp.Expr) -> bool:
    e = to_exponential_coordinates(sp.expand_log(sp.expand(expr), force=False))
    return sp.cancel(sp.together(e)) == 0 or sp.simplify(expr) == 0


def assert_zero(expr, claim):
    if not is_identically_zero(expr):
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
            assert_zero(sp.log(sequence_prob(x, y)).expand(force=True) - sequence_log_prob_sum(x, y),
                        f"4a: log P(y|x) = sum_i log P(y_i|y_<i,x) for x={x}, y={y}")
            if sum(per_step_rewards(x, y)) != seq_reward[(x, y)]:
                raise AssertionError("4a: the per-step rewards should sum to r(x, y)")
            assert_identity(policy_gradient_surrogate(x, y, 1), cross_entropy(x, y),
                            f"4b: with r = 1 the policy-gradient term is the cross-entropy (x={x}, y={y})")
    J_seq = sequence_objective()
    for k in range(len(w)):
        assert_zero(sp.diff(J_seq, w[k]) - sequence_policy_gradient(k),
                    f"4a: sequence policy gradient equals d/dw_{k} E[r] (exact enumeration)")
        assert_zero(sequence_policy_gradient(k, baseline=b) - sequence_policy_gradient(k),
                    f"4b: baseline leaves the sequence policy gradient unchanged (w_{k})")
        # indicator reward r = 1[y = y*]: policy gradient = P(y*|x) * (supervised gradient of log P(y*|x))
        ystar = {-1: (0, 1), 1: (1, 1)}
        ind = sum(DATA[x] * sequence_prob(x, ystar[x]) * sp.diff(sequence_log_prob_sum(x, ystar[x]), w[k])
                  for x in SOURCES)
        J_ind = sum(DATA[x] * sequence_prob(x, ystar[x]) for x in SOURCES)
        assert_zero(sp.diff(J_ind, w[k]) - ind,
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
    mean_score = sp.simplify(to_exponential_coordinates(
        sum(pi[av] * softmax_score(av, 0) for av in range(N_ACTIONS))))
    return {
        "q4a_softmax_score": tex(general),
        "q4b_score_mean": tex(sp.cancel(mean_score)),
    }

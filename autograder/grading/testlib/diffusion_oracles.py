"""Independent reference computations for the diffusion hidden tests (numpy, float64).

None of these functions uses the closed forms that the students derive. They recompute every
quantity from the *definitions* of the two forward processes, so that a test comparing a
submission with them does not inherit a mistake of the reference solution:

- binary chain (Q1): each step flips a ±1 pixel with probability delta, i.e. the 2x2 transition
  matrix M = [[1 - delta, delta], [delta, 1 - delta]] (state 0 is +1, state 1 is -1). Marginals
  come from matrix powers M^t, posteriors from Bayes' rule by enumerating the two states of
  Y_{t-1}.
- Gaussian chain (Q2): x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps_t. Means and variances
  of x_t | x_0 follow the chain step by step; the posterior of x_{t-1} given (x_t, x_0) is obtained
  by conditioning the joint Gaussian of (x_{t-1}, x_t) numerically (Schur complement).

Also here: closed forms of typical *wrong* answers, used only to name the likely mistake in a
failure message (:func:`name_the_mistake`), and *stand-ins*: oracles with the signature and return
types of a student function, which a test of another question puts in place of the student's
callee (``autograder.grading.testlib.with_correct``), so that each question is graded on its own.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Mapping

import numpy as np

__all__ = [
    "flip_matrix",
    "chain_transition",
    "survival_prob_oracle",
    "keep_prob_oracle",
    "posterior_prob_plus_oracle",
    "bernoulli_kl_oracle",
    "log_sigmoid",
    "diffusion_loss_oracle",
    "bce_sum_mean_oracle",
    "alpha_bar_oracle",
    "gaussian_marginal_oracle",
    "gaussian_posterior_oracle",
    "name_the_mistake",
    "to_numpy",
    "survival_prob_stand_in",
    "posterior_prob_plus_stand_in",
    "alpha_bar_stand_in",
]


def to_numpy(x) -> np.ndarray:
    """Convert a tensor / number / array to a float64 numpy array (on the CPU)."""
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", torch.float64).numpy()
    except ImportError:  # pragma: no cover - torch is always there in the grader
        pass
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Binary chain
# ----------------------------------------------------------------------------------------------
def _state(v: float) -> int:
    """Index of a ±1 value in the transition matrices: +1 -> 0, -1 -> 1."""
    return 0 if v > 0 else 1


def flip_matrix(delta: float) -> np.ndarray:
    """One-step transition matrix of a pixel, rows = from state, columns = to state (+1, -1)."""
    return np.array([[1.0 - delta, delta], [delta, 1.0 - delta]], dtype=np.float64)


@lru_cache(maxsize=4096)
def chain_transition(t: int, delta: float) -> np.ndarray:
    """P(Y_t = b | Y_0 = a) for the two states, as the matrix power M^t (t >= 0)."""
    if t < 0:
        raise ValueError("t must be >= 0")
    return np.linalg.matrix_power(flip_matrix(delta), int(t))


def keep_prob_oracle(t: int, delta: float) -> float:
    """P(Y_t[j] = Y_0[j]) after t flip steps."""
    return float(chain_transition(int(t), float(delta))[0, 0])


def survival_prob_oracle(t: int, delta: float) -> float:
    """Probability of never having been replaced by a fair coin, read off the flip chain.

    With replacement probability r per step, P(Y_t = Y_0) = s + (1 - s)/2 and P(Y_t = -Y_0) =
    (1 - s)/2, so s = P(same) - P(different) = M^t[0, 0] - M^t[0, 1].
    """
    m = chain_transition(int(t), float(delta))
    return float(m[0, 0] - m[0, 1])


def _posterior_plus_scalar(y: float, x0: float, t: int, delta: float) -> float:
    prior = chain_transition(int(t) - 1, float(delta))[_state(x0)]   # P(Y_{t-1} = a | Y_0 = x0)
    lik = flip_matrix(float(delta))[:, _state(y)]                    # P(Y_t = y | Y_{t-1} = a)
    joint = prior * lik                                              # over a in (+1, -1)
    return float(joint[0] / joint.sum())


def posterior_prob_plus_oracle(y_t, x0, t, delta: float) -> np.ndarray:
    """Elementwise P(Y_{t-1} = +1 | Y_t = y_t, Y_0 = x0) by enumerating Y_{t-1} (t >= 1).

    y_t, x0: arrays of ±1 of the same shape (B, ...); t: int, or a length-B sequence (per example
    along axis 0). Returns a float64 array of that shape.
    """
    y = to_numpy(y_t)
    x = to_numpy(x0)
    ts = _per_example_t(t, y.shape)
    out = np.empty_like(y)
    for idx in np.ndindex(*y.shape):
        out[idx] = _posterior_plus_scalar(y[idx], x[idx], ts[idx[0]] if y.ndim else ts[0], delta)
    return out


def _per_example_t(t, shape) -> list[int]:
    if isinstance(t, (int, np.integer)):
        return [int(t)] * (shape[0] if len(shape) else 1)
    ts = [int(v) for v in to_numpy(t).reshape(-1)]
    if len(shape) and len(ts) != shape[0]:
        raise ValueError("per-example t must have one entry per example")
    return ts


def bernoulli_kl_oracle(p, q) -> np.ndarray:
    """KL(Bern(p) || Bern(q)) by summing p(y) log(p(y) / q(y)) over the outcomes with p(y) > 0."""
    p = to_numpy(p)
    q = to_numpy(q)
    p, q = np.broadcast_arrays(p, q)
    out = np.zeros(p.shape, dtype=np.float64)
    for idx in np.ndindex(*p.shape):
        total = 0.0
        for py, qy in ((p[idx], q[idx]), (1.0 - p[idx], 1.0 - q[idx])):
            if py > 0:
                total += py * (math.log(py) - math.log(qy))
        out[idx] = total
    return out


def log_sigmoid(z) -> np.ndarray:
    """log(1 / (1 + exp(-z))) computed without overflow (float64)."""
    return -np.logaddexp(0.0, -to_numpy(z))


def diffusion_loss_oracle(logits, y_t, x0, t, delta: float) -> float:
    """Mean over the batch of the sum over pixels of KL(posterior || Bern(sigmoid(logits)))."""
    z = to_numpy(logits)
    p = posterior_prob_plus_oracle(y_t, x0, t, delta)
    log_q_plus, log_q_minus = log_sigmoid(z), log_sigmoid(-z)
    kl = np.zeros_like(p)
    for idx in np.ndindex(*p.shape):
        for py, log_qy in ((p[idx], log_q_plus[idx]), (1.0 - p[idx], log_q_minus[idx])):
            if py > 0:
                kl[idx] += py * (math.log(py) - log_qy)
    per_example = kl.reshape(kl.shape[0], -1).sum(axis=1)
    return float(per_example.mean())


def bce_sum_mean_oracle(logits, x0) -> float:
    """Binary cross-entropy of sigmoid(logits) against labels (1 + x0)/2: pixel sum, batch mean."""
    z = to_numpy(logits)
    x = to_numpy(x0)
    nll = np.where(x > 0, -log_sigmoid(z), -log_sigmoid(-z))
    return float(nll.reshape(nll.shape[0], -1).sum(axis=1).mean())


# ----------------------------------------------------------------------------------------------
# Gaussian chain
# ----------------------------------------------------------------------------------------------
def alpha_bar_oracle(betas) -> np.ndarray:
    """[1, (1-β_1), (1-β_1)(1-β_2), ...]: the explicit running product, length T + 1."""
    b = [float(v) for v in to_numpy(betas).reshape(-1)]
    out = [1.0]
    for beta in b:
        out.append(out[-1] * (1.0 - beta))
    return np.array(out, dtype=np.float64)


def _chain_moments(betas, t: int) -> tuple[list[float], list[float]]:
    """Mean coefficient c_s and variance v_s of x_s | x_0 = c_s x_0 + N(0, v_s), s = 0..t.

    Follows x_s = sqrt(1 - β_s) x_{s-1} + sqrt(β_s) ε_s one step at a time.
    """
    b = [float(v) for v in to_numpy(betas).reshape(-1)]
    if not 0 <= t <= len(b):
        raise ValueError(f"t = {t} outside 0..{len(b)}")
    c, v = [1.0], [0.0]
    for s in range(1, t + 1):
        c.append(math.sqrt(1.0 - b[s - 1]) * c[-1])
        v.append((1.0 - b[s - 1]) * v[-1] + b[s - 1])
    return c, v


def gaussian_marginal_oracle(betas, t: int) -> tuple[float, float]:
    """(signal coefficient, variance) of q(x_t | x_0) = N(coef * x_0, variance)."""
    c, v = _chain_moments(betas, int(t))
    return c[-1], v[-1]


def gaussian_posterior_oracle(betas, t: int) -> tuple[float, float, float]:
    """(k_x0, k_xt, variance) with q(x_{t-1} | x_t, x_0) = N(k_x0 x_0 + k_xt x_t, variance), t >= 1.

    Builds the joint Gaussian of (x_{t-1}, x_t) given x_0 (per coordinate):
        mean = (c_{t-1}, c_t) * x_0,
        cov  = [[v_{t-1}, a v_{t-1}], [a v_{t-1}, v_t]] with a = sqrt(1 - β_t),
    and conditions the first coordinate on the second with the Schur complement.
    """
    t = int(t)
    if t < 1:
        raise ValueError("t must be >= 1")
    b = [float(v) for v in to_numpy(betas).reshape(-1)]
    c, v = _chain_moments(b, t)
    a = math.sqrt(1.0 - b[t - 1])
    mean = np.array([c[t - 1], c[t]])                       # times x_0
    cov = np.array([[v[t - 1], a * v[t - 1]], [a * v[t - 1], v[t]]], dtype=np.float64)
    gain = cov[0, 1] / cov[1, 1]                            # Σ12 Σ22^{-1}
    k_xt = gain
    k_x0 = mean[0] - gain * mean[1]
    var = cov[0, 0] - cov[0, 1] * gain                      # Σ11 - Σ12 Σ22^{-1} Σ21
    return float(k_x0), float(k_xt), float(max(var, 0.0))


# ----------------------------------------------------------------------------------------------
# Naming mistakes in messages
# ----------------------------------------------------------------------------------------------
def name_the_mistake(got, candidates: Mapping[str, object], rtol: float = 1e-6,
                     atol: float = 1e-9) -> str | None:
    """Return the description of the first wrong-answer candidate that ``got`` matches, else None.

    candidates: description -> array (or number) that a specific mistake would produce.
    Non-finite or shape-mismatched candidates are skipped.
    """
    g = to_numpy(got)
    for description, value in candidates.items():
        try:
            c = to_numpy(value)
            if c.shape != g.shape and c.size != 1:
                c = np.broadcast_to(c, g.shape)
            if np.all(np.isfinite(c)) and np.allclose(g, c, rtol=rtol, atol=atol):
                return description
        except (ValueError, TypeError):
            continue
    return None



# ----------------------------------------------------------------------------------------------
# Stand-ins: the oracles above as drop-in replacements of the student's functions
# ----------------------------------------------------------------------------------------------
def survival_prob_stand_in(t, delta: float):
    """survival_prob from :func:`survival_prob_oracle`: a float for an int t; for a tensor t, a
    tensor of the default floating dtype with t's shape and device (as ``(1 - 2 delta) ** t``)."""
    import torch

    if not isinstance(t, torch.Tensor):
        return survival_prob_oracle(int(t), delta)
    values = [survival_prob_oracle(int(v), delta) for v in t.reshape(-1).tolist()]
    return torch.tensor(values, device=t.device).reshape(t.shape)


def posterior_prob_plus_stand_in(y_t, x0, t, delta: float):
    """posterior_prob_plus from :func:`posterior_prob_plus_oracle`, with y_t's dtype and device."""
    import torch

    return torch.as_tensor(posterior_prob_plus_oracle(y_t, x0, t, delta), dtype=y_t.dtype,
                           device=y_t.device)


def alpha_bar_stand_in(betas):
    """alpha_bar from :func:`alpha_bar_oracle`, with betas' dtype and device."""
    import torch

    return torch.as_tensor(alpha_bar_oracle(betas), dtype=betas.dtype, device=betas.device)

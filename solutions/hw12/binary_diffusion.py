"""Binary (±1 pixel) diffusion: forward noising, its posterior, and the training loss (HW12 Q1).

Time-index convention: ``t`` counts forward steps. ``t = 0`` is the clean image ``Y_0 = x0`` and
``Y_t`` is obtained from ``Y_{t-1}`` by flipping every pixel independently with probability
``delta``. Equivalently, each step replaces a pixel by a fresh fair coin with probability
``2 * delta`` (the two-state chain of Austin et al. 2021, "Structured Denoising Diffusion Models in
Discrete State-Spaces" (D3PM), with the uniform transition matrix).

Shapes: images are float tensors of ±1 values with a batch dimension first, ``(B, ...)``.
Wherever ``t`` appears it is either a Python int (the same step for the whole batch) or a
LongTensor of shape ``(B,)`` giving example ``b`` (along dim 0) its own step ``t[b]``.
``delta`` is a Python float in (0, 1/2). Every function keeps the device and floating dtype of its
tensor inputs, and all randomness comes from the ``generator`` argument.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# given helpers (hw12/diffusion_helpers.py): uniform draws from a generator, per-example shaping
from hw12.diffusion_helpers import broadcast_per_example, uniform_like

__all__ = [
    "survival_prob",
    "forward_step",
    "sample_forward",
    "Q1C_ANSWER",
    "posterior_prob_plus",
    "bernoulli_kl",
    "diffusion_loss",
]


# ----------------------------------------------------------------------------------------------
# Q1(a)
# ----------------------------------------------------------------------------------------------
# Forward marginal of the two-state chain: Austin et al. 2021 (D3PM), Sec. 3, q(x_t | x_0) = Cat(x_0 Q̄_t).
def survival_prob(t, delta: float):
    """Probability that a pixel has not been replaced by a fair coin during the first t steps.

    Args:
        t: int >= 0, or a LongTensor of any shape (e.g. (B,)) of steps.
        delta: per-step flip probability, a float in (0, 1/2).
    Returns:
        A float if ``t`` is an int; otherwise a floating tensor with the shape and device of ``t``.
    """
    # BEGIN SOLUTION
    # HINT: in each step the pixel is replaced with probability 2 * delta, independently of the
    # HINT: other steps; "not replaced after t steps" means every one of those t coins said "keep".
    # HINT: write it so that it works unchanged for an int t and for a LongTensor t.
    return (1 - 2 * delta) ** t
    # END SOLUTION


# ----------------------------------------------------------------------------------------------
# The forward process one step at a time (given)
# ----------------------------------------------------------------------------------------------
def forward_step(y: torch.Tensor, delta: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One forward step: flip every pixel of ``y`` independently with probability ``delta``.

    y: (B, ...) tensor of ±1 floats (Y_{t-1}).
    Returns Y_t: a new tensor with y's shape, dtype and device.
    """
    flip = uniform_like(y, generator) < delta  # (B, ...) bool
    return torch.where(flip, -y, y)


# ----------------------------------------------------------------------------------------------
# Q1(b)
# ----------------------------------------------------------------------------------------------
def sample_forward(x0: torch.Tensor, t, delta: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample Y_t given Y_0 = x0 in one shot (without simulating Y_1, ..., Y_{t-1}).

    Args:
        x0: (B, ...) tensor of ±1 floats, the clean images.
        t: int >= 0, or LongTensor of shape (B,): the step of each example.
        delta: per-step flip probability, a float in (0, 1/2).
        generator: ``torch.Generator`` that supplies all the randomness (None: torch's default).
    Returns:
        (B, ...) tensor of ±1 values with x0's dtype and device; every pixel of every example
        is noised independently of the others.
    """
    # BEGIN SOLUTION
    # HINT: use at most two coins per pixel (uniform_like(x0, generator) gives one uniform per pixel):
    # HINT:   coin 1 decides whether the pixel was ever replaced; it survives with prob survival_prob(t, delta);
    # HINT:   coin 2 is the fair ±1 coin that a replaced pixel shows.
    # HINT: for a tensor t, survival_prob(t, delta) has shape (B,); broadcast_per_example reshapes it
    # HINT: to (B, 1, ..., 1) so that example b uses its own t[b].
    keep_prob = broadcast_per_example(survival_prob(t, delta), x0)  # () or (B, 1, ..., 1)
    kept = uniform_like(x0, generator) < keep_prob                 # coin 1, (B, ...)
    fair = torch.where(uniform_like(x0, generator) < 0.5, 1.0, -1.0).to(x0.dtype)  # coin 2, ±1
    return torch.where(kept, x0, fair)
    # END SOLUTION


# ----------------------------------------------------------------------------------------------
# Q1(c): which nonlinearity turns a real-valued output into P(pixel = +1)?
# One of "sigmoid", "relu", "tanh".
# ----------------------------------------------------------------------------------------------
Q1C_ANSWER = "sigmoid"  # SOLUTION


# ----------------------------------------------------------------------------------------------
# Q1(d)
# ----------------------------------------------------------------------------------------------
# Posterior of the chain by Bayes' rule: Austin et al. 2021 (D3PM), Sec. 3, q(x_{t-1} | x_t, x_0).
def posterior_prob_plus(y_t: torch.Tensor, x0: torch.Tensor, t, delta: float) -> torch.Tensor:
    """Elementwise P(Y_{t-1}[j] = +1 | Y_t = y_t, Y_0 = x0) for t >= 1.

    Args:
        y_t: (B, ...) tensor of ±1 floats, the noisy images at step t.
        x0: (B, ...) tensor of ±1 floats, the clean images (either sign of every pixel).
        t: int >= 1, or LongTensor of shape (B,) with entries >= 1.
        delta: per-step flip probability, a float in (0, 1/2).
    Returns:
        (B, ...) tensor of probabilities in [0, 1] with y_t's dtype and device.
    """
    # BEGIN SOLUTION
    # HINT: prior: P(Y_{t-1}[j] = +1 | Y_0[j] = x0[j]): the pixel survived the first t - 1 steps,
    # HINT: or it was replaced and the fair coin showed +1. Make it work for both signs of x0.
    # HINT: likelihood: P(Y_t[j] = y | Y_{t-1}[j] = a) is 1 - delta if y == a and delta otherwise.
    # HINT: combine them with Bayes' rule; avoid Python if-statements on tensors (they must be elementwise).
    s = broadcast_per_example(survival_prob(t - 1, delta), y_t)  # () or (B, 1, ..., 1)
    prior_plus = (1 + x0 * s) / 2                  # P(Y_{t-1} = +1 | Y_0 = x0)
    lik_plus = (1 + y_t * (1 - 2 * delta)) / 2     # P(Y_t = y_t | Y_{t-1} = +1)
    lik_minus = 1 - lik_plus                       # P(Y_t = y_t | Y_{t-1} = -1)
    joint_plus = prior_plus * lik_plus
    return joint_plus / (joint_plus + (1 - prior_plus) * lik_minus)
    # END SOLUTION


# ----------------------------------------------------------------------------------------------
# Q1(e)
# ----------------------------------------------------------------------------------------------
def bernoulli_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(Bern(p) || Bern(q)) in nats, with the convention 0 * log 0 = 0.

    Args:
        p: tensor with entries in [0, 1] (0 and 1 included).
        q: tensor with entries in (0, 1), broadcastable with p.
    Returns:
        Tensor of the broadcast shape of p and q (floating dtype of the inputs), entries >= 0.
    """
    # BEGIN SOLUTION
    # HINT: KL = p log(p / q) + (1 - p) log((1 - p) / (1 - q)).
    # HINT: at p = 0 or p = 1 one term is 0 * log 0 = 0; torch.xlogy(x, y) computes x * log(y)
    # HINT: and returns 0 where x == 0, without producing nan.
    return (torch.xlogy(p, p) - torch.xlogy(p, q)
            + torch.xlogy(1 - p, 1 - p) - torch.xlogy(1 - p, 1 - q))
    # END SOLUTION


# Per-step term L_{t-1} of the variational bound: Austin et al. 2021 (D3PM), Sec. 3; Ho et al. 2020, eq. 5.
def diffusion_loss(logits: torch.Tensor, y_t: torch.Tensor, x0: torch.Tensor, t,
                   delta: float) -> torch.Tensor:
    """Training loss: KL(target posterior || model), summed over pixels, averaged over the batch.

    Args:
        logits: (B, ...) real tensor with x0's shape; the model's P(Y_{t-1}[j] = +1) is
            sigmoid(logits[..., j]).
        y_t: (B, ...) ±1 floats, the noisy images at step t.
        x0: (B, ...) ±1 floats, the clean images.
        t: int >= 1, or LongTensor of shape (B,).
        delta: per-step flip probability, a float in (0, 1/2).
    Returns:
        0-dim tensor with logits' dtype and device, differentiable with respect to ``logits``
        (finite for any finite logits, however large).
    """
    # BEGIN SOLUTION
    # HINT: the target is p = posterior_prob_plus(y_t, x0, t, delta); the model's probability is
    # HINT: q = sigmoid(logits). Do not take log(sigmoid(logits)) directly: it overflows to -inf for
    # HINT: large |logits|. Use log q = F.logsigmoid(logits) and log(1 - q) = F.logsigmoid(-logits).
    # HINT: sum over every dim except dim 0, then average over the batch (dim 0).
    p = posterior_prob_plus(y_t, x0, t, delta).to(logits.dtype)   # (B, ...), no gradient
    neg_entropy = torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)     # sum_y p(y) log p(y)
    cross = p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits)  # sum_y p(y) log q(y)
    kl = neg_entropy - cross                                        # (B, ...)
    return kl.reshape(kl.shape[0], -1).sum(dim=1).mean()            # (B, m) -> (B,) -> ()
    # END SOLUTION

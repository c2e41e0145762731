"""The training loops of the RLHF notebook (Q4), without ``transformers``. Given code.

* ``train_sft``: supervised fine-tuning of the policy on reference summaries.
* ``train_reward_model``: the reward model on preference pairs, with your ``reward_model_loss``
  (one step: ``reward_model_step``).
* ``policy_update``: one REINFORCE update with a KL-penalised reward, with your
  ``sequence_log_probs``, ``kl_penalized_rewards`` and ``policy_gradient_loss``
  (``rlhf_policy_optimisation.policy_step`` samples the summaries and calls it).

The steps take any optimiser with ``zero_grad`` and ``step``, and only call the models
(``policy(input_ids=, attention_mask=, labels=).logits`` and ``reward_model(input_ids,
attention_mask, labels)``), so they run the same on the notebook's T5 models and on the small
stand-ins with which ``hw12/replay.py`` replays them.

Conventions are those of ``hw12/rlhf.py``: ``labels`` (B, L) long with -100 at ignored positions,
log-probabilities per sequence (B,). Step k of a loop is its k-th optimiser update (from 0).
"""
from __future__ import annotations

import math
from typing import Callable, List

import torch
import torch.nn as nn

__all__ = ["batched", "train_sft", "train_reward_model", "reward_model_step", "policy_update"]


def steps_of(steps: int, progress: bool, desc: str):
    """range(steps), with a tqdm progress bar when ``progress`` (the grader does not install tqdm,
    and never asks for one)."""
    if not progress:
        return range(steps)
    from tqdm.auto import tqdm

    return tqdm(range(steps), desc=desc)


def batched(n: int, batch_size: int, generator: torch.Generator):
    """Endless iterator of index batches (LongTensor) over a reshuffled range(n)."""
    while True:
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i:i + batch_size]


def train_sft(policy: nn.Module, input_ids: torch.Tensor,
              attention_mask: torch.Tensor, labels: torch.Tensor, steps: int,
              batch_size: int = 32, lr: float = 3e-3, seed: int = 0, device="cpu",
              progress: bool = False) -> List[float]:
    """Supervised fine-tuning on (article, reference summary) pairs with the model's token-mean
    cross-entropy and Adam with a linear decay. Returns the loss of every step."""
    policy.to(device).train()
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(steps, 1))
    it = batched(input_ids.shape[0], batch_size, torch.Generator().manual_seed(seed))
    losses = []
    for _ in steps_of(steps, progress, "SFT"):
        idx = next(it)
        out = policy(input_ids=input_ids[idx].to(device), attention_mask=attention_mask[idx].to(device),
                     labels=labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(out.loss.detach()))
    policy.eval()
    return losses


def train_reward_model(reward_model: nn.Module, input_ids: torch.Tensor,
                       attention_mask: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor,
                       loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], steps: int,
                       batch_size: int = 32, lr: float = 1e-3, seed: int = 0, device="cpu",
                       progress: bool = False) -> List[float]:
    """Train on preference pairs with ``loss_fn(r_chosen, r_rejected)`` (your reward_model_loss).

    input_ids, attention_mask: (N, S) articles; chosen, rejected: (N, T) label tensors of the
    preferred and the other summary. Returns the loss of every step.
    """
    reward_model.to(device).train()
    opt = torch.optim.Adam(reward_model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(steps, 1))
    it = batched(input_ids.shape[0], batch_size, torch.Generator().manual_seed(seed))
    losses = []
    for _ in steps_of(steps, progress, "reward model"):
        idx = next(it)
        losses.append(reward_model_step(reward_model, opt, input_ids[idx].to(device),
                                        attention_mask[idx].to(device), chosen[idx].to(device),
                                        rejected[idx].to(device), loss_fn))
        sched.step()
    reward_model.eval()
    return losses


def reward_model_step(reward_model: nn.Module, optimizer, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor,
                      loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """One optimiser step of the reward model on a batch of pairs; the loss before the step.

    input_ids, attention_mask: (b, S) articles; chosen, rejected: (b, T) labels. ``optimizer``
    needs ``zero_grad`` and ``step`` (``hw12/replay.py`` uses a small stand-in for torch's Adam).
    """
    r_c = reward_model(input_ids, attention_mask, chosen)                           # (b,)
    r_r = reward_model(input_ids, attention_mask, rejected)                         # (b,)
    loss = loss_fn(r_c, r_r)
    if not math.isfinite(float(loss.detach())):
        raise FloatingPointError("reward-model loss is not finite; check reward_model_loss")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(reward_model.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach())


def policy_update(policy: nn.Module, ref_policy: nn.Module, reward_model: nn.Module,
                  input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                  prompts: int, formulas, optimizer: torch.optim.Optimizer, kl_coef: float,
                  baseline: str = "leave_one_out", max_grad_norm: float = 1.0) -> dict:
    """One REINFORCE update of ``policy`` on sampled summaries (InstructGPT eq. 2 as the reward).

    1. score the summaries with the reward model; log pi_ref(y|x) with the frozen reference;
    2. r = kl_penalized_rewards(score, log pi, log pi_ref, kl_coef);
    3. loss = policy_gradient_loss(log pi, r, baseline); one optimizer step (gradients clipped).

    Args:
        input_ids, attention_mask: (P*K, S) articles, each repeated K times (K samples each).
        labels: (P*K, T) long, the sampled summaries (-100 after </s>).
        prompts: P, the number of distinct articles (the leave-one-out baseline groups by them).
        formulas: your functions (``sequence_log_probs``, ``kl_penalized_rewards``,
            ``policy_gradient_loss``): the module ``hw12.rlhf`` or a ``Formulas``.
        baseline: 'leave_one_out', 'batch_mean' or 'none'.
    Returns:
        dict of floats "loss", "proxy_reward" (mean reward-model score), "kl" (mean of
        log pi - log pi_ref), "reward" (mean KL-penalised reward).
    """
    P = prompts
    K = input_ids.shape[0] // P
    with torch.no_grad():
        scores = reward_model(input_ids, attention_mask, labels).float()             # (P*K,)
        ref_logits = ref_policy(input_ids=input_ids, attention_mask=attention_mask,
                                labels=labels).logits
        ref_lp = formulas.sequence_log_probs(ref_logits, labels).float()              # (P*K,)

    policy.train()
    logits = policy(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits
    logp = formulas.sequence_log_probs(logits, labels)                                # (P*K,)
    rewards = formulas.kl_penalized_rewards(scores, logp.detach().float(), ref_lp, kl_coef)

    if baseline == "leave_one_out" and K > 1:
        per_prompt = rewards.view(P, K)
        b = ((per_prompt.sum(1, keepdim=True) - per_prompt) / (K - 1)).reshape(-1)
    elif baseline in ("batch_mean", "leave_one_out"):
        b = rewards.mean()
    elif baseline == "none":
        b = None
    else:
        raise ValueError(f"unknown baseline {baseline!r}")

    loss = formulas.policy_gradient_loss(logp, rewards, b)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    return {"loss": float(loss.detach()), "proxy_reward": float(scores.mean()),
            "kl": float((logp.detach().float() - ref_lp).mean()),
            "reward": float(rewards.float().mean())}

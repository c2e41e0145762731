"""The policy-optimisation stage of the RLHF notebook (Q4): its configuration, one REINFORCE step
with a KL-penalised reward, and the loop over steps. Given code.

The stage runs three of your functions from ``hw12/rlhf.py`` (``sequence_log_probs``,
``kl_penalized_rewards``, ``policy_gradient_loss``); they come in as ``formulas``, so this module
never imports yours. ``rlhf.train_policy`` passes them for you.

Conventions are those of ``hw12/rlhf.py``: ``labels`` (B, L) long with -100 at ignored positions,
log-probabilities per sequence (B,).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, NamedTuple, Optional, Union

import torch
import torch.nn as nn

from hw12.rlhf_data import IGNORE_INDEX
from hw12.rlhf_models import load_checkpoint, sample_summaries
from hw12.rlhf_training import policy_update

__all__ = ["RLHFConfig", "Formulas", "policy_step", "train_policy"]


@dataclass
class RLHFConfig:
    """Settings of the policy-optimisation stage. Each field's help text is in its metadata."""

    steps: int = field(default=60, metadata={"help": "number of policy_step calls"})
    prompts_per_step: int = field(default=16, metadata={
        "help": "articles drawn per step"})
    samples_per_prompt: int = field(default=4, metadata={
        "help": "summaries sampled per article; >1 enables the leave-one-out baseline"})
    lr: float = field(default=3e-4, metadata={"help": "Adam learning rate of the policy"})
    kl_coef: float = field(default=0.05, metadata={
        "help": "beta in InstructGPT eq. 2: weight of the KL penalty against the SFT policy"})
    baseline: str = field(default="leave_one_out", metadata={
        "help": "'leave_one_out' (mean reward of the other samples of the same article), "
                "'batch_mean' or 'none'"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    max_new_tokens: int = field(default=32, metadata={
        "help": "longest summary sampled, </s> included"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping threshold"})
    seed: int = field(default=0, metadata={"help": "seed of prompt order and sampling"})
    device: str = field(default="cpu", metadata={"help": "'cpu' or 'cuda'"})

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RLHFConfig":
        """Build from a dict, rejecting unknown keys."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RLHFConfig fields: {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def help() -> str:
        return "\n".join(f"{f.name} ({f.type}, default {f.default!r}): {f.metadata['help']}"
                         for f in fields(RLHFConfig))


class Formulas(NamedTuple):
    """The functions of hw12/rlhf.py that the stage runs (anything with these three attributes,
    such as the module itself, works the same)."""

    sequence_log_probs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    policy_gradient_loss: Callable[..., torch.Tensor]
    kl_penalized_rewards: Callable[..., torch.Tensor]


def _policy_log_probs(policy: nn.Module, input_ids, attention_mask, labels,
                      sequence_log_probs: Callable) -> torch.Tensor:
    """log P(labels | article) per sequence, (B,), with ``sequence_log_probs`` of hw12/rlhf.py."""
    logits = policy(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits
    return sequence_log_probs(logits, labels)


def policy_step(policy: nn.Module, ref_policy: nn.Module, reward_model: nn.Module,
                batch: Dict[str, torch.Tensor], cfg: RLHFConfig,
                optimizer: torch.optim.Optimizer, formulas: Formulas,
                generator: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """One step of policy optimisation (REINFORCE with a KL-penalised reward).

    1. sample cfg.samples_per_prompt summaries y ~ pi(.|x) for each article in the batch;
    2. score them with the reward model, and compute log pi(y|x) and log pi_ref(y|x);
    3. r = kl_penalized_rewards(score, log pi, log pi_ref, cfg.kl_coef)     (InstructGPT eq. 2);
    4. loss = policy_gradient_loss(log pi, r, baseline); one optimizer step.
    The three functions are those of ``formulas``.

    Args:
        batch: {"input_ids": (P, S), "attention_mask": (P, S)} articles (P prompts).
        formulas: the functions of hw12/rlhf.py (a ``Formulas``, or the module itself).
        generator: torch.Generator on cfg.device for sampling.
    Returns:
        dict with floats "loss", "proxy_reward" (mean reward-model score), "kl" (mean of
        log pi - log pi_ref over the samples), "reward" (mean KL-penalised reward), "length"
        (mean summary length in tokens), and "labels" (P*K, T) the sampled summaries and
        "prompt_index" (P*K,) the article of each sample.
    """
    K = cfg.samples_per_prompt
    ids = batch["input_ids"].repeat_interleave(K, dim=0)                 # (P*K, S)
    mask = batch["attention_mask"].repeat_interleave(K, dim=0)           # (P*K, S)
    P = batch["input_ids"].shape[0]

    policy.eval()
    labels = sample_summaries(policy, ids, mask, cfg.max_new_tokens, cfg.temperature, generator)
    stats = policy_update(policy, ref_policy, reward_model, ids, mask, labels, P, formulas,
                          optimizer, cfg.kl_coef, cfg.baseline, cfg.max_grad_norm)
    return {
        **stats,
        "length": float((labels != IGNORE_INDEX).sum(1).float().mean()),
        "labels": labels.cpu(),
        "prompt_index": torch.arange(P).repeat_interleave(K),
    }


def train_policy(checkpoint: Dict[str, Any], input_ids: torch.Tensor,
                 attention_mask: torch.Tensor, cfg: Union[RLHFConfig, Dict[str, Any]],
                 formulas: Formulas,
                 callback: Optional[Callable[[int, nn.Module, Dict[str, Any]], None]] = None
                 ) -> Dict[str, Any]:
    """Run ``cfg.steps`` policy steps starting from the SFT policy of a checkpoint.

    Args:
        checkpoint: dict written by ``rlhf_models.make_checkpoint`` (policy and reward model).
        input_ids, attention_mask: (N, S) the training articles (prompts).
        cfg: an RLHFConfig or a dict of its fields.
        formulas: the functions of hw12/rlhf.py (a ``Formulas``, or the module itself).
        callback: optional ``callback(step, policy, stats)`` called after every step (the notebook
            uses it to evaluate the hidden quality on held-out articles).
    Returns:
        {"policy_state": the trained policy's state_dict (CPU tensors),
         "history": list of per-step dicts with the float entries of policy_step's result}.
    """
    if isinstance(cfg, dict):
        cfg = RLHFConfig.from_dict(cfg)
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    policy, reward_model = load_checkpoint(checkpoint, device=device)
    ref_policy = copy.deepcopy(policy).eval()
    for p in list(ref_policy.parameters()) + list(reward_model.parameters()):
        p.requires_grad_(False)
    reward_model.eval()
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    order = torch.Generator().manual_seed(cfg.seed)
    N = input_ids.shape[0]
    history = []
    perm, pos = torch.randperm(N, generator=order), 0
    for step in range(cfg.steps):
        if pos + cfg.prompts_per_step > N:
            perm, pos = torch.randperm(N, generator=order), 0
        idx = perm[pos:pos + cfg.prompts_per_step]
        pos += cfg.prompts_per_step
        batch = {"input_ids": input_ids[idx].to(device),
                 "attention_mask": attention_mask[idx].to(device)}
        stats = policy_step(policy, ref_policy, reward_model, batch, cfg, optimizer, formulas, gen)
        stats["prompt_index"] = idx[stats["prompt_index"]]
        if callback is not None:
            callback(step, policy, stats)
        history.append({"step": step, **{k: v for k, v in stats.items()
                                         if isinstance(v, float)}})
        if not all(math.isfinite(v) for v in history[-1].values()):
            raise FloatingPointError(f"non-finite statistics at step {step}: {history[-1]}")
    policy.eval()
    return {"policy_state": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
            "history": history}

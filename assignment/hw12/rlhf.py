"""Q4: reinforcement learning from human feedback for summarisation.

You implement four small formulas (marked TODO); the rest of the file is given and uses them to
run the InstructGPT recipe (Ouyang et al., 2022): a supervised policy, a reward model trained on
pairwise preferences, and policy-gradient fine-tuning against a KL-penalised reward.

Conventions used throughout
---------------------------
* A *policy* is a seq2seq model (``T5ForConditionalGeneration``): the article ``x`` goes to the
  encoder, the summary ``y = [y_1, ..., y_n]`` (ending with </s>) is produced by the decoder.
* ``labels`` (B, L) long hold the summary tokens, with -100 at every position to ignore (padding
  after </s>), as in ``transformers``.
* ``logits`` (B, L, V) are *aligned* with ``labels``: ``logits[b, i]`` is the distribution over
  ``labels[b, i]`` given the article and ``labels[b, :i]``. Calling a T5 model with
  ``labels=labels`` returns logits in exactly this alignment (the model shifts the decoder input
  right by itself), so no further shifting is needed here.
* ``log P(y|x)`` means the sum over the summary's tokens, sum_i log P(y_i | y_<i, x): one number
  per sequence, shape (B,).

Everything works on any device and keeps the input's floating dtype. Nothing here draws random
numbers from hidden global state: sampling takes a ``torch.Generator``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "sequence_log_probs", "policy_gradient_loss", "reward_model_loss", "kl_penalized_rewards",
    "RLHFConfig", "RewardHead", "sample_summaries", "policy_step", "train_policy",
]

IGNORE_INDEX = -100


# =============================================================================================
# Part 1: the four formulas (your code)
# =============================================================================================
def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Log-probability of each whole label sequence under the model.

    Args:
        logits: (B, L, V) float, unnormalised scores; logits[b, i] scores labels[b, i]
            (already aligned: do not shift).
        labels: (B, L) long, token ids, -100 at positions that must not count.
    Returns:
        (B,) tensor in the dtype of ``logits``: for each sequence b,
        sum over positions i with labels[b, i] != -100 of log softmax(logits[b, i])[labels[b, i]].
        A row with no counted position gives 0. Differentiable with respect to ``logits``.
    """
    # TODO: log_softmax over the vocabulary dimension, pick each label's entry with gather,
    # TODO: zero out the ignored positions (replace -100 by a valid id before gathering), then sum
    # TODO: over the sequence dimension (a sum, not a mean).
    raise NotImplementedError("sequence_log_probs: not implemented yet (hw12/rlhf.py)")


def policy_gradient_loss(seq_log_probs: torch.Tensor, rewards: torch.Tensor,
                         baseline: Union[torch.Tensor, float, None] = None) -> torch.Tensor:
    """REINFORCE surrogate loss (Williams, 1992) whose gradient is the policy gradient of Q4(a).

    Args:
        seq_log_probs: (B,) log P(y_b | x_b) of sampled sequences, differentiable.
        rewards: (B,) reward r(x_b, y_b) of each sequence. Treated as a constant.
        baseline: None (no baseline), a float, or a tensor broadcastable to (B,); subtracted from
            the rewards. Treated as a constant.
    Returns:
        scalar tensor: -mean_b (r_b - baseline_b) * seq_log_probs_b. No gradient may flow into
        ``rewards`` or ``baseline``. With rewards = 1 and no baseline this is the supervised
        cross-entropy of Q4(b) (summed over tokens, averaged over the batch).
    """
    # TODO: detach rewards (and the baseline when there is one) before using them; the
    # TODO: advantage is reward minus baseline; return minus the batch mean of advantage * log-prob.
    raise NotImplementedError("policy_gradient_loss: not implemented yet (hw12/rlhf.py)")


def reward_model_loss(rewards_chosen: torch.Tensor, rewards_rejected: torch.Tensor) -> torch.Tensor:
    """Pairwise (Bradley-Terry) loss of the reward model, InstructGPT eq. 1.

    Args:
        rewards_chosen: (B,) reward-model scores of the summaries the labeller preferred.
        rewards_rejected: (B,) scores of the other summary of each pair.
    Returns:
        scalar tensor: -mean_b log sigmoid(rewards_chosen_b - rewards_rejected_b).
        Equals log 2 when the two scores are equal; must stay finite for large differences.
    """
    # TODO: use F.logsigmoid on the difference (chosen minus rejected); it is stable where
    # TODO: torch.log(torch.sigmoid(...)) underflows.
    raise NotImplementedError("reward_model_loss: not implemented yet (hw12/rlhf.py)")


def kl_penalized_rewards(scores: torch.Tensor, seq_log_probs: torch.Tensor,
                         ref_seq_log_probs: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Per-sequence reward of the RL stage, InstructGPT eq. 2 (without the pretraining term):
    r(x, y) = score(x, y) - kl_coef * (log pi_RL(y|x) - log pi_SFT(y|x)).

    Args:
        scores: (B,) reward-model scores of the sampled summaries.
        seq_log_probs: (B,) log pi(y|x) under the policy being trained.
        ref_seq_log_probs: (B,) log pi_ref(y|x) under the frozen SFT policy.
        kl_coef: float >= 0, the KL coefficient beta.
    Returns:
        (B,) tensor of rewards, detached (no gradient flows through it into any input).
        Sequences the policy made more likely than the reference did are penalised.
    """
    # TODO: log pi - log pi_ref is the per-sequence sample of the KL divergence; subtract
    # TODO: kl_coef times it from the scores, and detach the result.
    raise NotImplementedError("kl_penalized_rewards: not implemented yet (hw12/rlhf.py)")


# =============================================================================================
# Part 2: given code (read it; you do not need to change it)
# =============================================================================================
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


class RewardHead(nn.Module):
    """Scalar head of the reward model: masked mean of transformer states -> one number.

    forward(hidden (B, L, D), mask (B, L)) -> (B,) scores.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.proj = nn.Linear(d_model, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(hidden.dtype).unsqueeze(-1)                          # (B, L, 1)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)           # (B, D)
        return self.proj(self.norm(pooled)).squeeze(-1)                  # (B,)


@torch.no_grad()
def sample_summaries(policy: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     max_new_tokens: int = 32, temperature: Union[float, torch.Tensor] = 1.0,
                     generator: Optional[torch.Generator] = None, greedy: bool = False):
    """Sample one summary per article by ancestral sampling from the policy.

    Args:
        input_ids, attention_mask: (B, S) encoded articles.
        temperature: a float, or a (B,) tensor giving each article its own temperature.
        generator: a torch.Generator on the policy's device (sampling is reproducible with it).
        greedy: take the most likely token instead of sampling.
    Returns:
        labels (B, T) long: sampled tokens up to and including the first </s>, then -100.
        A summary that has not ended after max_new_tokens tokens is cut there (no </s>).
    """
    cfg = policy.config
    B = input_ids.shape[0]
    device = input_ids.device
    encoder_outputs = policy.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    decoder_in = torch.full((B, 1), cfg.decoder_start_token_id, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    temp = torch.as_tensor(temperature, dtype=torch.float32, device=device).reshape(-1, 1)  # (B or 1, 1)
    out, past = [], None
    for _ in range(max_new_tokens):
        step = policy(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                      decoder_input_ids=decoder_in, past_key_values=past, use_cache=True)
        past = step.past_key_values
        logits = step.logits[:, -1, :].float()                           # (B, V)
        if greedy:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temp, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        out.append(nxt.masked_fill(done, IGNORE_INDEX))
        done = done | (nxt == cfg.eos_token_id)
        decoder_in = nxt.unsqueeze(-1)                                   # (B, 1) next input
        if bool(done.all()):
            break
    return torch.stack(out, dim=1)                                       # (B, T)


def _policy_log_probs(policy: nn.Module, input_ids, attention_mask, labels) -> torch.Tensor:
    """log P(labels | article) per sequence, (B,), using the student's sequence_log_probs."""
    logits = policy(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits
    return sequence_log_probs(logits, labels)


def policy_step(policy: nn.Module, ref_policy: nn.Module, reward_model: nn.Module,
                batch: Dict[str, torch.Tensor], cfg: RLHFConfig,
                optimizer: torch.optim.Optimizer,
                generator: Optional[torch.Generator] = None) -> Dict[str, Any]:
    """One step of policy optimisation (REINFORCE with a KL-penalised reward).

    1. sample cfg.samples_per_prompt summaries y ~ pi(.|x) for each article in the batch;
    2. score them with the reward model, and compute log pi(y|x) and log pi_ref(y|x);
    3. r = kl_penalized_rewards(score, log pi, log pi_ref, cfg.kl_coef)     (InstructGPT eq. 2);
    4. loss = policy_gradient_loss(log pi, r, baseline); one optimizer step.

    Args:
        batch: {"input_ids": (P, S), "attention_mask": (P, S)} articles (P prompts).
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
    with torch.no_grad():
        scores = reward_model(ids, mask, labels).float()                 # (P*K,)
        ref_lp = _policy_log_probs(ref_policy, ids, mask, labels).float()

    policy.train()
    logp = _policy_log_probs(policy, ids, mask, labels)                  # (P*K,) differentiable
    rewards = kl_penalized_rewards(scores, logp.detach().float(), ref_lp, cfg.kl_coef)

    if cfg.baseline == "leave_one_out" and K > 1:
        per_prompt = rewards.view(P, K)
        baseline = ((per_prompt.sum(1, keepdim=True) - per_prompt) / (K - 1)).reshape(-1)
    elif cfg.baseline in ("batch_mean", "leave_one_out"):
        baseline = rewards.mean()
    elif cfg.baseline == "none":
        baseline = None
    else:
        raise ValueError(f"unknown baseline {cfg.baseline!r}")

    loss = policy_gradient_loss(logp, rewards, baseline)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
    optimizer.step()

    return {
        "loss": float(loss.detach()),
        "proxy_reward": float(scores.mean()),
        "kl": float((logp.detach().float() - ref_lp).mean()),
        "reward": float(rewards.float().mean()),
        "length": float((labels != IGNORE_INDEX).sum(1).float().mean()),
        "labels": labels.cpu(),
        "prompt_index": torch.arange(P).repeat_interleave(K),
    }


def train_policy(checkpoint: Dict[str, Any], input_ids: torch.Tensor,
                 attention_mask: torch.Tensor, cfg: Union[RLHFConfig, Dict[str, Any]],
                 callback: Optional[Callable[[int, nn.Module, Dict[str, Any]], None]] = None
                 ) -> Dict[str, Any]:
    """Run ``cfg.steps`` policy steps starting from the SFT policy of a checkpoint.

    Args:
        checkpoint: dict written by ``rlhf_models.make_checkpoint`` (policy and reward model).
        input_ids, attention_mask: (N, S) the training articles (prompts).
        cfg: an RLHFConfig or a dict of its fields.
        callback: optional ``callback(step, policy, stats)`` called after every step (the notebook
            uses it to evaluate the hidden quality on held-out articles).
    Returns:
        {"policy_state": the trained policy's state_dict (CPU tensors),
         "history": list of per-step dicts with the float entries of policy_step's result}.
    """
    try:  # local import keeps this module light (no transformers) until training starts
        from .rlhf_models import load_checkpoint
    except ImportError:
        from rlhf_models import load_checkpoint

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
        stats = policy_step(policy, ref_policy, reward_model, batch, cfg, optimizer, gen)
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

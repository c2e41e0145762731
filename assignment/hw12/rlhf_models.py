"""Models for the RLHF notebook (Q4): a small T5 policy trained from scratch, a reward model, and
the training loops of the supervised and reward-modelling stages. Given code.

* Policy: ``T5ForConditionalGeneration`` built from a small ``T5Config`` (about 0.2 M parameters
  with the default ``ModelConfig``), trained by supervised fine-tuning (SFT) on reference summaries.
* Reward model: the SFT transformer without its output layer (encoder reads the article, decoder
  reads the summary), initialised from the SFT policy as in InstructGPT, followed by
  ``RewardHead`` (masked mean of the decoder states -> scalar).
* ``sample_summaries`` draws summaries from a policy by ancestral sampling.
* Checkpoints are plain dicts of configs and state dicts (``make_checkpoint``), so they can be saved
  with ``torch.save`` and loaded with ``torch.load(weights_only=True)``.

Pretrained path (optional): with ``HW12_PRETRAINED=1`` and a model already in the local Hugging
Face cache, ``load_pretrained_policy`` returns e.g. ``t5-small``; it never downloads. Off by default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from transformers import T5Config, T5ForConditionalGeneration, T5Model

from hw12 import rlhf_data as D
from hw12.rlhf_data import IGNORE_INDEX
from hw12.rlhf_training import batched, train_reward_model, train_sft  # noqa: F401 - re-exported

__all__ = ["USE_PRETRAINED", "ModelConfig", "build_policy", "RewardHead", "RewardModel",
           "sample_summaries", "make_checkpoint",
           "load_checkpoint", "save_checkpoint", "read_checkpoint", "load_pretrained_policy",
           "train_sft", "train_reward_model", "pairwise_accuracy", "batched", "pad_labels",
           "make_preference_pairs", "evaluate_policy"]

#: Switch for the pretrained path. Off unless HW12_PRETRAINED=1 is set before import.
USE_PRETRAINED = os.environ.get("HW12_PRETRAINED", "0") == "1"
CHECKPOINT_FORMAT = "hw12-rlhf-checkpoint-v1"


@dataclass
class ModelConfig:
    """Size of the from-scratch T5 policy. Each field's help text is in its metadata."""

    d_model: int = field(default=64, metadata={"help": "width of the residual stream"})
    d_ff: int = field(default=128, metadata={"help": "width of the feed-forward layers"})
    num_heads: int = field(default=4, metadata={"help": "attention heads"})
    num_layers: int = field(default=2, metadata={"help": "encoder layers (decoder has as many)"})
    seed: int = field(default=0, metadata={"help": "seed of the initial weights"})


def build_policy(vocab_size: int, cfg: ModelConfig = ModelConfig()) -> T5ForConditionalGeneration:
    """A freshly initialised small T5 (pad = decoder start = 0, </s> = 1, no dropout)."""
    config = T5Config(vocab_size=vocab_size, d_model=cfg.d_model, d_ff=cfg.d_ff,
                      d_kv=cfg.d_model // cfg.num_heads, num_heads=cfg.num_heads,
                      num_layers=cfg.num_layers, num_decoder_layers=cfg.num_layers,
                      relative_attention_num_buckets=16, relative_attention_max_distance=64,
                      dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
                      decoder_start_token_id=0, tie_word_embeddings=True)
    torch.manual_seed(cfg.seed)
    return T5ForConditionalGeneration(config)


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


class RewardModel(nn.Module):
    """r(x, y): a T5 transformer whose encoder reads the article and whose decoder reads the whole
    summary, followed by ``RewardHead`` (masked mean of the decoder states -> scalar).

    Initialised from the SFT policy (``from_policy``), as InstructGPT initialises its reward model
    from the SFT model: the decoder already knows which words a good summary uses, and the head
    learns how to turn that into a score.
    forward(input_ids (B, S), attention_mask (B, S), labels (B, T) with -100 padding) -> (B,).
    """

    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.backbone = T5Model(T5Config(**config))
        self.head = RewardHead(self.backbone.config.d_model)

    @property
    def config(self) -> T5Config:
        return self.backbone.config

    @classmethod
    def from_policy(cls, policy: T5ForConditionalGeneration) -> "RewardModel":
        rm = cls(_plain(policy.config.to_dict()))
        state = {k: v for k, v in policy.state_dict().items() if not k.startswith("lm_head")}
        rm.backbone.load_state_dict(state, strict=False)
        return rm

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        B = input_ids.shape[0]
        keep = labels != IGNORE_INDEX                                        # (B, T)
        start = torch.full((B, 1), self.config.decoder_start_token_id, dtype=torch.long,
                           device=input_ids.device)
        dec_ids = torch.cat([start, labels.masked_fill(~keep, 0)], dim=1)   # (B, T+1)
        dec_mask = torch.cat([torch.ones_like(start), keep.long()], dim=1)  # (B, T+1)
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               decoder_input_ids=dec_ids,
                               decoder_attention_mask=dec_mask).last_hidden_state  # (B, T+1, D)
        return self.head(hidden, dec_mask)                                  # (B,)


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def _plain(d: Dict[str, Any]) -> Dict[str, Any]:
    """Keep only JSON-like config entries (so torch.load(weights_only=True) accepts them)."""
    ok = (int, float, str, bool, type(None))
    return {k: v for k, v in d.items()
            if isinstance(v, ok) or (isinstance(v, (list, tuple)) and all(isinstance(x, ok) for x in v))}


def make_checkpoint(policy: T5ForConditionalGeneration, reward_model: Optional[RewardModel] = None,
                    tokenizer=None) -> Dict[str, Any]:
    """Plain-data checkpoint: configs, CPU state dicts and the tokenizer as a JSON string."""
    ckpt: Dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "policy": {"config": _plain(policy.config.to_dict()),
                   "state_dict": {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}},
        "reward_model": None, "tokenizer": None,
    }
    if reward_model is not None:
        ckpt["reward_model"] = {
            "config": _plain(reward_model.config.to_dict()),
            "state_dict": {k: v.detach().cpu().clone() for k, v in reward_model.state_dict().items()}}
    if tokenizer is not None:
        ckpt["tokenizer"] = tokenizer.backend_tokenizer.to_str()
    return ckpt


def load_checkpoint(ckpt: Dict[str, Any], device="cpu") -> Tuple[T5ForConditionalGeneration,
                                                                  Optional[RewardModel]]:
    """(policy, reward_model or None) on ``device`` from a ``make_checkpoint`` dict."""
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"not an RLHF checkpoint (format {ckpt.get('format')!r})")
    policy = T5ForConditionalGeneration(T5Config(**ckpt["policy"]["config"]))
    policy.load_state_dict(ckpt["policy"]["state_dict"])
    reward_model = None
    if ckpt.get("reward_model") is not None:
        reward_model = RewardModel(ckpt["reward_model"]["config"])
        reward_model.load_state_dict(ckpt["reward_model"]["state_dict"])
        reward_model = reward_model.to(device).eval()
    return policy.to(device).eval(), reward_model


def save_checkpoint(path, ckpt: Dict[str, Any]) -> None:
    torch.save(ckpt, path)


def read_checkpoint(path) -> Dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_pretrained_policy(name: str = "t5-small"):
    """A pretrained summariser and its tokenizer from the local cache (HW12_PRETRAINED=1 only)."""
    if not USE_PRETRAINED:
        raise RuntimeError("the pretrained path is off; set HW12_PRETRAINED=1 to use it")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    model = T5ForConditionalGeneration.from_pretrained(name, local_files_only=True)
    return model, tok


@torch.no_grad()
def pairwise_accuracy(reward_model: RewardModel, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor,
                      batch_size: int = 256, device="cpu") -> Tuple[int, int]:
    """(number of pairs with r(chosen) > r(rejected), number of pairs)."""
    reward_model.to(device).eval()
    correct = 0
    for i in range(0, input_ids.shape[0], batch_size):
        sl = slice(i, i + batch_size)
        ids, mask = input_ids[sl].to(device), attention_mask[sl].to(device)
        correct += int((reward_model(ids, mask, chosen[sl].to(device))
                        > reward_model(ids, mask, rejected[sl].to(device))).sum())
    return correct, int(input_ids.shape[0])


# ---------------------------------------------------------------------------------------------
# Preference data and evaluation (they use the hidden quality, so they belong to the "humans")
# ---------------------------------------------------------------------------------------------
def pad_labels(*label_tensors: torch.Tensor) -> List[torch.Tensor]:
    """Right-pad label tensors (N, T_k) with -100 to a common length."""
    T = max(t.shape[1] for t in label_tensors)
    return [torch.nn.functional.pad(t, (0, T - t.shape[1]), value=IGNORE_INDEX)
            for t in label_tensors]


@torch.no_grad()
def make_preference_pairs(policy: T5ForConditionalGeneration, tokenizer, corpus: List[Dict],
                          input_ids: torch.Tensor, attention_mask: torch.Tensor, seed: int = 0,
                          oracle_temperature: float = 0.1, batch_size: int = 256,
                          temperatures: Tuple[float, ...] = (0.6, 1.0, 1.4),
                          device="cpu") -> Dict[str, Any]:
    """Sample two summaries per article from ``policy`` and ask the simulated labeller which is
    better. Each summary is sampled at a temperature drawn from ``temperatures`` (summaries of
    varied quality teach the reward model more, as InstructGPT's comparisons of outputs from
    several models do). Returns input_ids/attention_mask (N, S), chosen/rejected (N, T) labels, and the
    hidden qualities of both (for diagnostics only)."""
    policy.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    temps = torch.tensor(temperatures, dtype=torch.float32)
    pick = torch.randint(len(temperatures), (2, input_ids.shape[0]),
                         generator=torch.Generator().manual_seed(seed))
    a_parts, b_parts = [], []
    for i in range(0, input_ids.shape[0], batch_size):
        ids = input_ids[i:i + batch_size].to(device)
        mask = attention_mask[i:i + batch_size].to(device)
        ta, tb = (temps[pick[k, i:i + batch_size]].to(device) for k in (0, 1))
        a_parts.append(sample_summaries(policy, ids, mask, temperature=ta, generator=gen).cpu())
        b_parts.append(sample_summaries(policy, ids, mask, temperature=tb, generator=gen).cpu())
    a = torch.cat(pad_labels(*a_parts))
    b = torch.cat(pad_labels(*b_parts))
    a, b = pad_labels(a, b)
    qa = torch.tensor([D.true_quality(s, c["summary"], c["facts"])
                       for s, c in zip(D.decode(tokenizer, a), corpus)])
    qb = torch.tensor([D.true_quality(s, c["summary"], c["facts"])
                       for s, c in zip(D.decode(tokenizer, b), corpus)])
    a_wins = D.preference_oracle(qa, qb, oracle_temperature,
                                 torch.Generator().manual_seed(seed + 1))
    chosen = torch.where(a_wins[:, None], a, b)
    rejected = torch.where(a_wins[:, None], b, a)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "chosen": chosen,
            "rejected": rejected, "quality_chosen": torch.where(a_wins, qa, qb),
            "quality_rejected": torch.where(a_wins, qb, qa)}


@torch.no_grad()
def evaluate_policy(checkpoint: Dict[str, Any], policy_state: Optional[Dict[str, torch.Tensor]],
                    tokenizer, corpus: List[Dict], input_ids: torch.Tensor,
                    attention_mask: torch.Tensor, *,
                    sequence_log_probs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    device="cpu", seed: int = 123, batch_size: int = 256,
                    return_summaries: bool = False) -> Dict[str, Any]:
    """Evaluate a policy on held-out articles: one seeded sample per article.

    policy_state: a state dict for the checkpoint's policy architecture, or None for the SFT
    policy itself. sequence_log_probs: ``sequence_log_probs`` of hw12/rlhf.py (for the KL
    estimate). Returns mean "true_quality", "rouge_l", "facts_present", "proxy_reward"
    (checkpoint's reward model), "kl" (mean log pi - log pi_SFT of the samples) and "length"
    (words); with return_summaries also the decoded "summaries".
    """
    sft, reward_model = load_checkpoint(checkpoint, device=device)
    policy = sft
    if policy_state is not None:
        policy = T5ForConditionalGeneration(T5Config(**checkpoint["policy"]["config"]))
        policy.load_state_dict(policy_state)
        policy = policy.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    summaries, scores, kls = [], [], []
    for i in range(0, input_ids.shape[0], batch_size):
        ids = input_ids[i:i + batch_size].to(device)
        mask = attention_mask[i:i + batch_size].to(device)
        labels = sample_summaries(policy, ids, mask, generator=gen)
        lp = sequence_log_probs(policy(input_ids=ids, attention_mask=mask, labels=labels).logits, labels)
        lp_ref = lp if policy is sft else sequence_log_probs(
            sft(input_ids=ids, attention_mask=mask, labels=labels).logits, labels)
        kls.append((lp - lp_ref).float().cpu())
        if reward_model is not None:
            scores.append(reward_model(ids, mask, labels).float().cpu())
        summaries += D.decode(tokenizer, labels.cpu())
    n = len(summaries)
    mean = lambda xs: float(sum(xs) / max(len(xs), 1))  # noqa: E731
    out = {
        "true_quality": mean([D.true_quality(s, c["summary"], c["facts"]) for s, c in zip(summaries, corpus)]),
        "rouge_l": mean([D.rouge_l(s, c["summary"]) for s, c in zip(summaries, corpus)]),
        "facts_present": mean([D.facts_present(s, c["facts"]) for s, c in zip(summaries, corpus)]),
        "proxy_reward": float(torch.cat(scores).mean()) if scores else 0.0,
        "kl": float(torch.cat(kls).mean()) if n else 0.0,
        "length": mean([len(s.split()) for s in summaries]),
    }
    if return_summaries:
        out["summaries"] = summaries
    return out

"""Q4: reinforcement learning from human feedback for summarisation.

You implement four small formulas (marked TODO). The given code in the sibling modules uses them
to run the InstructGPT recipe (Ouyang et al., 2022): a supervised policy, a reward model trained on
pairwise preferences (``rlhf_models.py``, on the data of ``rlhf_data.py``), and policy-gradient
fine-tuning against a KL-penalised reward (``rlhf_policy_optimisation.py``; ``train_policy`` at the
end of this file runs it with your formulas).

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

Everything works on any device and keeps the input's floating dtype. Nothing draws random numbers
from hidden global state: sampling (``rlhf_models.sample_summaries``) takes a ``torch.Generator``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from hw12.rlhf_data import IGNORE_INDEX  # -100, the label id of positions to ignore

__all__ = [
    "sequence_log_probs", "policy_gradient_loss", "reward_model_loss", "kl_penalized_rewards",
    "train_policy",
]


# =============================================================================================
# The four formulas (your code)
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
    # BEGIN SOLUTION
    # HINT: log_softmax over the vocabulary dimension, pick each label's entry with gather,
    # HINT: zero out the ignored positions (replace -100 by a valid id before gathering), then sum
    # HINT: over the sequence dimension (a sum, not a mean).
    mask = labels != IGNORE_INDEX                                   # (B, L)
    safe_labels = labels.masked_fill(~mask, 0)                      # (B, L) valid ids everywhere
    log_probs = torch.log_softmax(logits, dim=-1)                   # (B, L, V)
    token_lp = log_probs.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)  # (B, L)
    return token_lp.masked_fill(~mask, 0.0).sum(dim=-1)            # (B,)
    # END SOLUTION


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
    # BEGIN SOLUTION
    # HINT: detach rewards (and the baseline when there is one) before using them; the
    # HINT: advantage is reward minus baseline; return minus the batch mean of advantage * log-prob.
    advantage = torch.as_tensor(rewards, dtype=seq_log_probs.dtype,
                                device=seq_log_probs.device).detach()
    if baseline is not None:
        advantage = advantage - torch.as_tensor(baseline, dtype=seq_log_probs.dtype,
                                                device=seq_log_probs.device).detach()
    return -(advantage * seq_log_probs).mean()
    # END SOLUTION


def reward_model_loss(rewards_chosen: torch.Tensor, rewards_rejected: torch.Tensor) -> torch.Tensor:
    """Pairwise (Bradley-Terry) loss of the reward model, InstructGPT eq. 1.

    Args:
        rewards_chosen: (B,) reward-model scores of the summaries the labeller preferred.
        rewards_rejected: (B,) scores of the other summary of each pair.
    Returns:
        scalar tensor: -mean_b log sigmoid(rewards_chosen_b - rewards_rejected_b).
        Equals log 2 when the two scores are equal; must stay finite for large differences.
    """
    # BEGIN SOLUTION
    # HINT: use F.logsigmoid on the difference (chosen minus rejected); it is stable where
    # HINT: torch.log(torch.sigmoid(...)) underflows.
    return -F.logsigmoid(rewards_chosen - rewards_rejected).mean()
    # END SOLUTION


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
    # BEGIN SOLUTION
    # HINT: log pi - log pi_ref is the per-sequence sample of the KL divergence; subtract
    # HINT: kl_coef times it from the scores, and detach the result.
    log_ratio = seq_log_probs - ref_seq_log_probs                 # (B,) one-sample KL estimate
    return (scores - kl_coef * log_ratio).detach()
    # END SOLUTION


# =============================================================================================
# Given: the policy-optimisation loop run with your formulas
# =============================================================================================
def train_policy(checkpoint: Dict[str, Any], input_ids: torch.Tensor,
                 attention_mask: torch.Tensor, cfg,
                 callback: Optional[Callable[[int, nn.Module, Dict[str, Any]], None]] = None
                 ) -> Dict[str, Any]:
    """``rlhf_policy_optimisation.train_policy`` with the formulas of this file (given).

    Args:
        checkpoint: dict written by ``rlhf_models.make_checkpoint`` (policy and reward model).
        input_ids, attention_mask: (N, S) the training articles (prompts).
        cfg: an ``rlhf_policy_optimisation.RLHFConfig`` or a dict of its fields.
        callback: optional ``callback(step, policy, stats)`` called after every step.
    Returns:
        {"policy_state": the trained policy's state_dict (CPU tensors),
         "history": list of per-step dicts with the float entries of policy_step's result}.
    """
    from hw12 import rlhf_policy_optimisation as po  # imports transformers: only when training

    formulas = po.Formulas(sequence_log_probs=sequence_log_probs,
                           policy_gradient_loss=policy_gradient_loss,
                           kl_penalized_rewards=kl_penalized_rewards)
    return po.train_policy(checkpoint, input_ids, attention_mask, cfg, formulas, callback)

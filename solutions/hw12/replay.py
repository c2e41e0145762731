"""Replays: the first optimisation steps of the notebooks' training stages, run again by the grader
with the code you submit. Given code.

A log question (``q3b_answers``, ``q4_log``) gives credit for a notebook run that the grader cannot
repeat. So the notebook's last cell records a *replay* next to its results: for each training stage
that runs your functions, the first ``STEPS`` optimiser steps of the notebook's own training loop
around your functions, on a small network whose weights and data come from the run's seed:

* early exit, ``early_exit_model``: ``early_exit_training.train_step`` (SGD) of an early-exit
  ResNet with your ``early_exit_loss``; then ``early_exit_evaluation``: your ``EarlyExitResNet.predict``,
  ``count_macs``, ``evaluate_early_exit`` and ``min_threshold_beating`` on the trained network;
* RLHF, ``reward_model``: ``rlhf_training.reward_model_step`` with your ``reward_model_loss``;
  ``policy``: ``rlhf_training.policy_update`` with your ``sequence_log_probs``,
  ``kl_penalized_rewards`` and ``policy_gradient_loss``.

The steps are the notebook's own (``train_step``, ``reward_model_step``, ``policy_update``); the
optimisers are small copies of torch's SGD and Adam (``torch.optim`` costs the grader's process
about 70 MB). The grader runs the same replay with the module you upload and compares the two within
``TOLERANCE``. What your functions return at a step decides the weights, hence the inputs of every
later step, so a log passes only if the submitted code computes what the code that wrote it
computed along the whole replay. The baseline and smaller ResNets and the SFT stage run none of
your functions, so they have nothing to replay.

Everything runs on the CPU in float64, whatever device trained the real models: the numbers do not
depend on the machine, the number of threads or the GPU (measured in BENCHMARKS.md). Time index:
step k is the k-th optimiser update, from 0; the loss of step k is computed before update k.
"""
from __future__ import annotations

import copy
import math
from types import SimpleNamespace
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from hw12.code_hash import source_sha256
from hw12.early_exit_models import MultiExitResNet
from hw12.early_exit_training import train_step
from hw12.rlhf_data import IGNORE_INDEX
from hw12.rlhf_training import batched, policy_update, reward_model_step

STEPS = 4           # optimiser steps replayed per stage
TOLERANCE = 1e-6    # relative difference allowed between a logged and a replayed number
VERSION = 1

STAGES = {
    "early_exit_model": "the early-exit training (your early_exit_loss)",
    "early_exit_evaluation": "the early-exit evaluation of the trained network (your predict, "
                             "count_macs, evaluate_early_exit and min_threshold_beating)",
    "reward_model": "the reward-model training (your reward_model_loss)",
    "policy": "the policy optimisation (your sequence_log_probs, kl_penalized_rewards and "
              "policy_gradient_loss)",
}


# ---------------------------------------------------------------------------------------------
# Gradients through functions that live in another process (the grader's sandbox)
# ---------------------------------------------------------------------------------------------
def tensors_in(obj: Any):
    """The tensors of ``obj`` (nested lists, tuples and dicts), depth first, in order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif type(obj) in (list, tuple):
        for v in obj:
            yield from tensors_in(v)
    elif type(obj) is dict:
        for v in obj.values():
            yield from tensors_in(v)


def _detached(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if type(obj) in (list, tuple):
        return type(obj)(_detached(v) for v in obj)
    if type(obj) is dict:
        return {k: _detached(v) for k, v in obj.items()}
    return obj


class _Across(torch.autograd.Function):
    """Output and vector-Jacobian product of a function computed by ``vjp`` elsewhere."""

    @staticmethod
    def forward(ctx, vjp, args, kwargs, flags, *leaves):
        ctx.call = (vjp, args, kwargs, flags)
        out = vjp(args, kwargs, flags, None)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"expected a tensor, got {type(out).__name__}")
        return out

    @staticmethod
    def backward(ctx, grad_output):
        vjp, args, kwargs, flags = ctx.call
        return (None, None, None, None, *vjp(args, kwargs, flags, grad_output))


def differentiable(fn: Callable) -> Callable:
    """``fn`` itself, or, for a function of the grader's sandbox (one with ``_autograder_vjp``), a
    function whose output backpropagates into its tensor arguments as ``fn``'s own would."""
    vjp = getattr(fn, "_autograder_vjp", None)
    if vjp is None:
        return fn

    def call(*args, **kwargs):
        found = list(tensors_in((args, kwargs)))
        flags = [t.requires_grad for t in found]
        plain_args, plain_kwargs = _detached(args), _detached(kwargs)
        if not any(flags) or not torch.is_grad_enabled():
            return vjp(plain_args, plain_kwargs, flags, None)
        leaves = [t for t in found if t.requires_grad]
        return _Across.apply(vjp, plain_args, plain_kwargs, flags, *leaves)

    return call


# ---------------------------------------------------------------------------------------------
# Small pieces shared by the stages
# ---------------------------------------------------------------------------------------------
def seeded_weights(model: nn.Module, g: torch.Generator, scale: float = 0.5) -> nn.Module:
    """Fill every floating parameter and buffer of ``model`` (float64) from ``g``: N(0, scale^2),
    running variances U(0.5, 1.5); independent of the library's own initialisation."""
    model.double()
    state = {}
    for name, value in model.state_dict().items():
        if not value.is_floating_point():
            state[name] = value
        elif name.endswith("running_var"):
            state[name] = torch.rand(value.shape, generator=g, dtype=torch.float64) + 0.5
        else:
            state[name] = torch.randn(value.shape, generator=g, dtype=torch.float64) * scale
    model.load_state_dict(state)
    return model


def weight_summary(model: nn.Module, seed: int) -> dict:
    """{"weight_norm": L2 norm of all parameters, "weight_projection": their dot product with a
    fixed random direction}, two numbers that change with any update."""
    g = torch.Generator().manual_seed(seed)
    params = [p.detach().double().reshape(-1) for p in model.parameters()]
    flat = torch.cat(params)                                                 # (n_params,)
    direction = torch.randn(flat.shape, generator=g, dtype=torch.float64)
    return {"weight_norm": float(flat.norm()), "weight_projection": float(flat @ direction)}


class SGD:
    """torch.optim.SGD's update (momentum, Nesterov, L2 weight decay) without torch.optim, whose
    first step imports the compiler stack (about 70 MB more in the grader's process)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.nesterov, self.weight_decay, self.buffers = nesterov, weight_decay, {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad + self.weight_decay * p
            if self.momentum:
                buf = self.buffers[i] = (d.clone() if i not in self.buffers
                                         else self.momentum * self.buffers[i] + d)
                d = d + self.momentum * buf if self.nesterov else buf
            p -= self.lr * d


class Adam:
    """torch.optim.Adam's update (bias-corrected moments) without torch.optim."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.moments, self.t = {}, 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            m, v = self.moments.get(i, (torch.zeros_like(p), torch.zeros_like(p)))
            m, v = b1 * m + (1 - b1) * p.grad, b2 * v + (1 - b2) * p.grad ** 2
            self.moments[i] = (m, v)
            m_hat, v_hat = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


def _number(x: Any) -> Any:
    """A JSON-safe number: finite floats as they are, others as 'nan', 'inf' or '-inf'."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _numbers(values) -> list:
    return [_number(v) for v in torch.as_tensor(values).detach().double().reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Early exit
# ---------------------------------------------------------------------------------------------
EE_SIZE = dict(num_classes=4, widths=(4, 8, 8), blocks_per_stage=1)
EE_BATCH, EE_IMAGE = 16, 12


def _images(g: torch.Generator, n: int):
    """n random images (n, 3, EE_IMAGE, EE_IMAGE) float64 and labels (n,) long."""
    x = torch.randn(n, 3, EE_IMAGE, EE_IMAGE, generator=g, dtype=torch.float64)
    return x, torch.randint(0, EE_SIZE["num_classes"], (n,), generator=g)


def _thresholds(model: nn.Module, x: torch.Tensor) -> list:
    """Three thresholds: the median confidence of the first exit on ``x`` and the 70th and 95th
    percentiles of all exits' confidences, each halfway between two neighbouring confidences (so
    that no example sits on one)."""
    with torch.no_grad():
        conf = [torch.softmax(z, -1).max(-1).values for z in model(x)]           # exits x (n,)
    first, every = conf[0].sort().values, torch.cat(conf).sort().values
    picks = [(first, len(first) // 2), (every, int(0.7 * len(every))),
             (every, int(0.95 * len(every)))]
    return sorted(float((c[i - 1] + c[i]) / 2) for c, i in picks)


def _labels_near(model: nn.Module, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The final exit's predictions for ``x`` with about a third replaced by random classes, so that
    accuracy changes with the threshold."""
    with torch.no_grad():
        y = model(x)[-1].argmax(-1)                                            # (n,)
    noise = torch.randint(0, EE_SIZE["num_classes"], y.shape, generator=g)
    return torch.where(torch.rand(y.shape, generator=g) < 1 / 3, noise, y)


def early_exit_training_stage(ee, seed: int):
    """STEPS SGD steps of ``early_exit_training.train_step`` with ``ee.early_exit_loss``; (record,
    trained network)."""
    g = torch.Generator().manual_seed(seed)
    model = seeded_weights(MultiExitResNet(**EE_SIZE), g, scale=0.3).train()
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    exit_loss = differentiable(ee.early_exit_loss)
    losses = [train_step(model, *_images(g, EE_BATCH), optimizer, exit_loss, (0.5, 0.75, 1.0))
              for _ in range(STEPS)]
    model.eval()
    return {"loss": _numbers(losses), **weight_summary(model, seed + 1)}, model


def early_exit_evaluation_stage(ee, model: nn.Module, seed: int) -> dict:
    """Your evaluation of the trained ``model`` (loaded into your EarlyExitResNet) at three
    thresholds, and your min_threshold_beating of the accuracies."""
    g = torch.Generator().manual_seed(seed + 2)
    x, _ = _images(g, 2 * EE_BATCH)
    y, thresholds = _labels_near(model, x, g), _thresholds(model, x)
    theirs = ee.EarlyExitResNet(**EE_SIZE).double()
    theirs.load_state_dict({k: v.detach().clone() for k, v in model.state_dict().items()})
    theirs.eval()
    batches = [(x[:EE_BATCH], y[:EE_BATCH]), (x[EE_BATCH:], y[EE_BATCH:])]
    keys = ("accuracy", "early_exit_rate", "confidence_early", "confidence_full", "mac_ratio")
    record: dict = {"thresholds": thresholds}
    accuracies = []
    for threshold in thresholds:
        result = ee.evaluate_early_exit(theirs, batches, threshold)
        for key in keys:
            record.setdefault(key, []).append(_number(result[key]))
        record.setdefault("exit_fraction", []).extend(_numbers(list(result["exit_fraction"])))
        accuracies.append(float(result["accuracy"]))
    target = sorted(accuracies)[1] - 1 / 64  # at least two thresholds beat it; in reverse order
    best = ee.min_threshold_beating(thresholds[::-1], accuracies[::-1], target)
    record["min_threshold"] = None if best is None else _number(best)
    return record


def early_exit_replay(ee, seed: int = 0) -> dict:
    """The replay of the early-exit notebook for the module ``ee`` (hw12.early_exit or the
    grader's view of the one you upload)."""
    training, model = early_exit_training_stage(ee, seed)
    return {"version": VERSION, "seed": seed, "steps": STEPS, "stages": {
        "early_exit_model": training,
        "early_exit_evaluation": early_exit_evaluation_stage(ee, model, seed)}}


# ---------------------------------------------------------------------------------------------
# RLHF: small stand-ins for the T5 policy and the reward model (same call signatures)
# ---------------------------------------------------------------------------------------------
VOCAB, WIDTH, ARTICLE, SUMMARY = 12, 8, 6, 5  # tokens 0 (pad/start) and 1 (</s>) are special


def _article_mean(embed: nn.Embedding, input_ids, attention_mask) -> torch.Tensor:
    m = attention_mask.unsqueeze(-1).to(embed.weight.dtype)                  # (B, S, 1)
    return (embed(input_ids) * m).sum(1) / m.sum(1).clamp(min=1)             # (B, d)


class TinyPolicy(nn.Module):
    """A seq2seq stand-in: logits[b, i] over the vocabulary from the mean embedding of the article
    and the embedding of summary token i - 1 (the start token 0 before the first)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, WIDTH)
        self.mix = nn.Linear(2 * WIDTH, WIDTH)
        self.out = nn.Linear(WIDTH, VOCAB)

    def forward(self, input_ids, attention_mask, labels):
        article = _article_mean(self.embed, input_ids, attention_mask)      # (B, d)
        previous = F.pad(labels.clamp(min=0), (1, 0))[:, :-1]                  # (B, T) shifted right
        context = article[:, None, :].expand(-1, labels.shape[1], -1)          # (B, T, d)
        h = torch.tanh(self.mix(torch.cat([context, self.embed(previous)], -1)))
        return SimpleNamespace(logits=self.out(h))                           # (B, T, V)


class TinyRewardModel(nn.Module):
    """A reward-model stand-in: one number per (article, summary) from their mean embeddings."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, WIDTH)
        self.mix = nn.Linear(2 * WIDTH, WIDTH)
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, input_ids, attention_mask, labels):
        article = _article_mean(self.embed, input_ids, attention_mask)      # (B, d)
        summary = _article_mean(self.embed, labels.clamp(min=0), labels != IGNORE_INDEX)
        return self.head(torch.tanh(self.mix(torch.cat([article, summary], -1)))).squeeze(-1)


def _articles(g: torch.Generator, n: int):
    """n articles: ids (n, ARTICLE) in 2..VOCAB-1 and a mask (n, ARTICLE) with 3 to ARTICLE ones."""
    ids = torch.randint(2, VOCAB, (n, ARTICLE), generator=g)
    lengths = torch.randint(3, ARTICLE + 1, (n,), generator=g)
    mask = (torch.arange(ARTICLE)[None, :] < lengths[:, None]).long()
    return ids * mask, mask


def _summaries(g: torch.Generator, n: int) -> torch.Tensor:
    """n summaries (n, SUMMARY): 1 to SUMMARY tokens ending with </s> (1), then -100."""
    labels = torch.randint(2, VOCAB, (n, SUMMARY), generator=g)
    lengths = torch.randint(1, SUMMARY + 1, (n,), generator=g)
    position = torch.arange(SUMMARY)[None, :]
    labels[position == lengths[:, None] - 1] = 1
    labels[position >= lengths[:, None]] = IGNORE_INDEX
    return labels


def reward_model_stage(rlhf, seed: int) -> dict:
    """STEPS calls of ``rlhf_training.reward_model_step`` with ``rlhf.reward_model_loss`` (Adam,
    batches of 8 of 32 pairs)."""
    g = torch.Generator().manual_seed(seed + 10)
    model = seeded_weights(TinyRewardModel(), g).train()
    ids, mask = _articles(g, 32)
    chosen, rejected = _summaries(g, 32), _summaries(g, 32)
    optimizer, loss_fn = Adam(model.parameters(), lr=0.05), differentiable(rlhf.reward_model_loss)
    order = batched(32, 8, torch.Generator().manual_seed(seed))
    losses = []
    for _ in range(STEPS):
        i = next(order)
        losses.append(reward_model_step(model, optimizer, ids[i], mask[i], chosen[i], rejected[i],
                                        loss_fn))
    return {"loss": _numbers(losses), **weight_summary(model, seed + 11)}


def policy_stage(rlhf, seed: int) -> dict:
    """STEPS calls of ``rlhf_training.policy_update`` with your three policy formulas, on random
    articles and summaries standing in for the sampled ones (4 articles x 3 samples per step)."""
    g = torch.Generator().manual_seed(seed + 20)
    policy = seeded_weights(TinyPolicy(), g)
    ref_policy = copy.deepcopy(policy).eval()
    reward_model = seeded_weights(TinyRewardModel(), g).eval()
    for p in list(ref_policy.parameters()) + list(reward_model.parameters()):
        p.requires_grad_(False)
    formulas = SimpleNamespace(**{name: differentiable(getattr(rlhf, name)) for name in (
        "sequence_log_probs", "kl_penalized_rewards", "policy_gradient_loss")})
    optimizer = Adam(policy.parameters(), lr=0.05)
    record: dict = {}
    for _ in range(STEPS):
        ids, mask = _articles(g, 4)
        ids, mask = ids.repeat_interleave(3, 0), mask.repeat_interleave(3, 0)   # (12, S)
        stats = policy_update(policy, ref_policy, reward_model, ids, mask, _summaries(g, 12), 4,
                              formulas, optimizer, kl_coef=0.1)
        for key in ("loss", "proxy_reward", "kl", "reward"):
            record.setdefault(key, []).append(_number(stats[key]))
    return {**record, **weight_summary(policy, seed + 21)}


def rlhf_replay(rlhf, seed: int = 0) -> dict:
    """The replay of the RLHF notebook for the module ``rlhf``."""
    return {"version": VERSION, "seed": seed, "steps": STEPS, "stages": {
        "reward_model": reward_model_stage(rlhf, seed), "policy": policy_stage(rlhf, seed)}}


REPLAYS = {"hw12/early_exit.py": early_exit_replay, "hw12/rlhf.py": rlhf_replay}


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------
def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a != b
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        return True
    return not abs(a - b) <= TOLERANCE * max(abs(b), 1e-3)


def mismatch(recorded: Any, replayed: dict) -> str | None:
    """Where ``recorded`` (a log's replay) differs from ``replayed``, in words; None if nowhere."""
    stages = recorded.get("stages") if isinstance(recorded, dict) else None
    if not isinstance(stages, dict):
        return "its replay has no stages"
    for stage, want in replayed["stages"].items():
        got = stages.get(stage)
        if not isinstance(got, dict):
            return f"it has no replay of {STAGES[stage]}"
        for key, value in want.items():
            values, logged = (value, got.get(key)) if isinstance(value, list) else (
                [value], [got.get(key)])
            if not isinstance(logged, list) or len(logged) != len(values):
                return f"its replay of {STAGES[stage]} has no usable {key!r}"
            for i, (a, b) in enumerate(zip(logged, values)):
                if _differs(a, b):
                    where = "" if not isinstance(value, list) else (
                        f" (value {i})" if stage == "early_exit_evaluation" else f" at step {i}")
                    return (f"in {STAGES[stage]}, {key}{where} is {a!r} in the log but {b!r} "
                            "when the grader replays it with your code")
    return None


def _seed(recorded: Any) -> int | None:
    seed = recorded.get("seed") if isinstance(recorded, dict) else None
    ok = type(seed) is int and 0 <= seed < 2**31 and recorded.get("version") == VERSION
    return seed if ok else None


_REPLAYED: dict = {}  # (module path, code digest, seed) -> replay; the replay is deterministic


class LogProblem(AssertionError):
    """A notebook output file that the submitted code did not write. ``problem`` names the kind
    for the course staff's report ("module hash mismatch", "log does not replay", "grader error");
    the message is what the student reads."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def submitted_sha256(module_path: str, submission) -> str:
    """The code hash of the submitted ``module_path``, read as UTF-8 exactly as the notebook's
    ``file_sha256`` reads it (two files that differ in any byte never share a hash)."""
    try:
        text = submission.read_bytes(module_path).decode("utf-8")
    except UnicodeDecodeError:
        raise LogProblem(f"{module_path} is not UTF-8 text; save it as UTF-8 and re-run the "
                         "notebook", "module hash mismatch") from None
    return source_sha256(text)


def require_same_source(file: str, recorded_sha: Any, module_path: str, submission) -> None:
    """Raise LogProblem unless ``recorded_sha`` (what ``file`` records) is the hash of the
    submitted ``module_path``."""
    if not isinstance(recorded_sha, str):
        raise LogProblem(f"{file} records no hash of {module_path}; write it with the notebook's "
                         "last cell", "module hash mismatch")
    if not submission.exists(module_path):
        raise LogProblem(f"{module_path} is missing from the submission", "missing files")
    digest = submitted_sha256(module_path, submission)
    if digest != recorded_sha:
        raise LogProblem(
            f"{file} was written by a different {module_path}: it records sha256 "
            f"{recorded_sha[:12]}..., the submitted file has {digest[:12]}... . Re-run the notebook "
            f"with the {module_path} you submit (any edit after the run, even whitespace, changes "
            "the hash).", "module hash mismatch")


def require_match(file: str, recorded: Any, module, module_path: str, submission) -> None:
    """Raise LogProblem, in words a student can act on, unless the replay recorded in ``file``
    is what the submitted ``module`` (``module_path`` of ``submission``) gives."""
    advice = (f"Re-run the notebook with the {module_path} you upload (its last cell writes "
              f"{file} with the replay), then upload both; the log earns nothing otherwise.")
    seed = _seed(recorded)
    if seed is None:
        raise LogProblem(f"{file} has no usable replay of your training (entry 'replay'). "
                         + advice, "log does not replay")
    key = (module_path, submitted_sha256(module_path, submission), seed)
    if key not in _REPLAYED:
        try:
            _REPLAYED[key] = REPLAYS[module_path](module, seed)
        except Exception as e:  # noqa: BLE001 - the notebook's run would have stopped here
            if getattr(e, "grader_failure", False):
                raise
            if isinstance(e, (ImportError, OSError)):  # the machine's, not your code's (a MemoryError
                # is a size your code asked for: the notebook would have stopped there too)
                raise LogProblem(
                    f"the grader could not replay the training of {file} ({type(e).__name__}: "
                    f"{e}); this is not your code's fault: please tell the course staff.",
                    "grader error") from None
            name = getattr(e, "type_name", None) or type(e).__name__
            text = (getattr(e, "student_message", None) or str(e)).strip().splitlines()
            raise LogProblem(
                f"{file} cannot have been written with the submitted {module_path}: replaying "
                f"the first steps of its training with your code stopped at {name}: "
                f"{text[0] if text else ''} (the notebook's training stops there too). "
                f"{advice}", "log does not replay") from None
    problem = mismatch(recorded, _REPLAYED[key])
    if problem is not None:
        raise LogProblem(f"{file} was not written by the submitted {module_path}: {problem}. "
                         + advice, "log does not replay")

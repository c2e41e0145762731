"""Trusted computations for the RLHF (Q4) hidden tests.

* Independent float64 implementations of the four Q4 formulas (written as loops or in a different
  form from the reference solution) and the wrong variants that hidden tests name in messages.
* The JSON Schema of ``submission_log.json`` and the consistency checks of the log
  (``solutions/hw12/rlhf_log_schema.json`` is the student-facing copy; the project's tests keep
  the two equal).
* ``reference_world``: the fixed setting of the GPU-tier test (corpus, tokenizer, SFT policy,
  reward model, held-out articles) built deterministically from the reference given code in
  ``solutions/hw12`` and cached on disk, and ``evaluate_policy`` to score a policy with the
  hidden quality. Only the GPU tier (run by staff from the repository) uses these two.

Importing this module imports neither torch nor transformers; the functions import what they use.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "solutions" / "hw12"

# ---------------------------------------------------------------------------------------------
# Independent formulas
# ---------------------------------------------------------------------------------------------


def sequence_log_probs(logits, labels, *, shift: bool = False, reduce: str = "sum",
                       use_mask: bool = True, dim: int = -1):
    """Loop oracle in float64. The keyword arguments produce the usual wrong variants:
    ``shift=True`` (logits[:, i-1] scores labels[:, i]), ``reduce="mean"``, ``use_mask=False``
    (ignored positions scored as token 0), ``dim=1`` (normalised over the sequence)."""
    import torch

    lp = torch.log_softmax(logits.double(), dim=dim)
    B, L = labels.shape
    out = torch.zeros(B, dtype=torch.float64)
    for b in range(B):
        n = 0
        for i in range(L):
            y = int(labels[b, i])
            if y == -100:
                if use_mask:
                    continue
                y = 0
            j = i - 1 if shift else i
            if j < 0:
                continue
            out[b] += lp[b, j, y]
            n += 1
        if reduce == "mean" and n:
            out[b] /= n
    return out


def policy_gradient_loss(logp, rewards, baseline=None) -> float:
    import torch

    logp, r = logp.double(), torch.as_tensor(rewards).double()
    adv = r if baseline is None else r - torch.as_tensor(baseline).double()
    return float(-sum(a * l for a, l in zip(adv.expand_as(logp).tolist(), logp.tolist())) / len(logp))


def reward_model_loss(chosen, rejected) -> float:
    """-mean log sigmoid(d) = mean softplus(-d), evaluated stably."""
    d = [float(c) - float(r) for c, r in zip(chosen, rejected)]
    return sum(max(-x, 0.0) + math.log1p(math.exp(-abs(x))) for x in d) / len(d)


def kl_penalized_rewards(scores, logp, ref_logp, kl_coef: float):
    return scores.double() - kl_coef * (logp.double() - ref_logp.double())


# ---------------------------------------------------------------------------------------------
# submission_log.json
# ---------------------------------------------------------------------------------------------
_NUM = {"type": "number"}
_INT0 = {"type": "integer", "minimum": 0}
_INT1 = {"type": "integer", "minimum": 1}

_STEP = {
    "type": "object",
    "description": "one policy_step on training articles",
    "required": ["step", "loss", "proxy_reward", "kl", "reward", "length", "true_quality"],
    "properties": {
        "step": {**_INT0, "description": "0-based index of the update"},
        "loss": {**_NUM, "description": "policy_gradient_loss of the step"},
        "proxy_reward": {**_NUM, "description": "mean reward-model score of the step's samples"},
        "kl": {**_NUM, "description": "mean of log pi - log pi_ref over the step's samples"},
        "reward": {**_NUM, "description": "mean KL-penalised reward = proxy_reward - kl_coef * kl"},
        "length": {"type": "number", "minimum": 0, "description": "mean summary length in tokens"},
        "true_quality": {**_NUM, "description": "mean hidden quality of the step's samples"},
    },
    "additionalProperties": False,
}

_EVAL = {
    "type": "object",
    "description": "evaluation of a policy on the held-out articles (one sample per article)",
    "required": ["true_quality", "rouge_l", "facts_present", "proxy_reward", "kl", "length"],
    "properties": {
        "true_quality": {**_NUM, "description": "mean hidden quality"},
        "rouge_l": {"type": "number", "minimum": 0, "maximum": 1},
        "facts_present": {"type": "number", "minimum": 0, "maximum": 1},
        "proxy_reward": {**_NUM, "description": "mean reward-model score"},
        "kl": {**_NUM, "description": "mean log pi - log pi_SFT of the samples (0 for the SFT policy)"},
        "length": {"type": "number", "minimum": 0, "description": "mean length in words"},
    },
    "additionalProperties": False,
}

_CURVE_POINT = {
    "type": "object",
    "required": ["step", "true_quality", "proxy_reward", "kl"],
    "properties": {"step": {**_INT0, "description": "number of updates done"},
                   "true_quality": _NUM, "proxy_reward": _NUM, "kl": _NUM},
    "additionalProperties": False,
}

_RUN = {
    "type": "object",
    "required": ["kl_coef", "steps", "eval_curve"],
    "properties": {
        "kl_coef": {"type": "number", "minimum": 0},
        "steps": {"type": "array", "items": _STEP, "minItems": 1},
        "eval_curve": {"type": "array", "items": _CURVE_POINT, "minItems": 2,
                       "description": "held-out evaluation after 0, k, 2k, ..., steps updates"},
    },
    "additionalProperties": False,
}

LOG_SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "HW12 RLHF submission log",
    "description": "Written by hw12_rlhf.ipynb; upload it to 'Homework 12 (Code) (RLHF)'.",
    "type": "object",
    "required": ["schema_version", "quick", "config", "sft", "reward_model", "rl", "hacking",
                 "final_evaluation", "samples", "code", "environment", "wall_time_s"],
    "properties": {
        "schema_version": {"const": 1},
        "quick": {"type": "boolean", "description": "true when run with HW12_QUICK=1"},
        "config": {
            "type": "object",
            "required": ["seed", "corpus", "model", "sft", "reward_model", "rl", "hacking"],
            "properties": {
                "seed": {"type": "integer"},
                "corpus": {"type": "object", "required": ["train", "test"],
                           "properties": {"train": _INT1, "test": _INT1}},
                "model": {"type": "object",
                          "required": ["d_model", "d_ff", "num_heads", "num_layers", "seed"]},
                "sft": {"type": "object", "required": ["steps", "batch_size", "lr"],
                        "properties": {"steps": _INT1, "batch_size": _INT1, "lr": _NUM}},
                "reward_model": {"type": "object",
                                 "required": ["pairs_train", "pairs_test", "steps", "batch_size",
                                              "lr", "oracle_temperature"],
                                 "properties": {"pairs_train": _INT1, "pairs_test": _INT1,
                                                "steps": _INT1, "batch_size": _INT1, "lr": _NUM,
                                                "oracle_temperature": _NUM}},
                "rl": {"type": "object",
                       "required": ["steps", "prompts_per_step", "samples_per_prompt", "lr",
                                    "kl_coef", "baseline", "temperature", "max_new_tokens",
                                    "max_grad_norm", "seed", "device"],
                       "properties": {"steps": _INT1, "kl_coef": {"type": "number", "minimum": 0}}},
                "hacking": {"type": "object", "required": ["steps", "kl_coef", "lr"],
                            "properties": {"steps": _INT1, "kl_coef": {"const": 0}, "lr": _NUM}},
                "eval_every": _INT1,
            },
        },
        "sft": {"type": "object", "required": ["steps", "final_loss"],
                "properties": {"steps": _INT1, "final_loss": _NUM}},
        "reward_model": {
            "type": "object",
            "required": ["final_loss", "test_pairs", "test_correct", "test_accuracy"],
            "properties": {"final_loss": _NUM, "test_pairs": _INT1, "test_correct": _INT0,
                           "test_accuracy": {"type": "number", "minimum": 0, "maximum": 1}},
        },
        "rl": {**_RUN, "description": "policy optimisation with the KL penalty"},
        "hacking": {**_RUN, "description": "the short run with kl_coef = 0"},
        "final_evaluation": {
            "type": "object",
            "required": ["n_articles", "sft", "rl", "hacking", "true_quality_gain"],
            "properties": {"n_articles": _INT1, "sft": _EVAL, "rl": _EVAL, "hacking": _EVAL,
                           "true_quality_gain": {**_NUM, "description": "rl minus sft true_quality"}},
        },
        "samples": {
            "type": "array", "minItems": 3,
            "items": {"type": "object", "required": ["article", "reference", "sft", "rl"],
                      "properties": {k: {"type": "string"}
                                     for k in ("article", "reference", "sft", "rl")}},
        },
        "code": {"type": "object", "required": ["path", "sha256", "fingerprint"],
                 "properties": {"path": {"const": "hw12/rlhf.py"},
                                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                "fingerprint": {"type": "array", "minItems": 1,
                                                "items": {"type": "number"}}}},
        "environment": {"type": "object", "required": ["python", "torch", "device"],
                        "properties": {"python": {"type": "string"}, "torch": {"type": "string"},
                                       "device": {"type": "string"}}},
        "wall_time_s": {"type": "number", "minimum": 0},
    },
}


def schema_problem(log: Any) -> Optional[str]:
    """None if ``log`` follows LOG_SCHEMA, else a sentence naming the first problem."""
    import jsonschema

    try:
        jsonschema.validate(log, LOG_SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        return f"at {where}: {e.message}"
    return None


def non_finite_paths(x: Any, where: str = "") -> List[str]:
    """JSON paths of NaN or infinite numbers."""
    if isinstance(x, float) and not math.isfinite(x):
        return [where or "/"]
    if isinstance(x, dict):
        return [p for k, v in x.items() for p in non_finite_paths(v, f"{where}/{k}")]
    if isinstance(x, list):
        return [p for i, v in enumerate(x) for p in non_finite_paths(v, f"{where}/{i}")]
    return []


def text_sha256(text: str) -> str:
    """The code hash of the log: sha256 of the UTF-8 text (universal newlines)."""
    return hashlib.sha256(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")).hexdigest()


def consistency_problems(log: Dict[str, Any]) -> List[str]:
    """Figures of a schema-valid log that contradict each other."""
    probs: List[str] = []
    cfg = log["config"]
    close = lambda a, b, tol: abs(a - b) <= tol * (1.0 + abs(a) + abs(b))  # noqa: E731
    for run, want_coef in (("rl", cfg["rl"]["kl_coef"]), ("hacking", 0.0)):
        r = log[run]
        if not close(r["kl_coef"], want_coef, 1e-9):
            probs.append(f"{run}.kl_coef is {r['kl_coef']} but the configuration says {want_coef}")
        n = cfg[run]["steps"]
        idx = [s["step"] for s in r["steps"]]
        if idx != list(range(n)):
            probs.append(f"{run}.steps has steps {idx[:5]}... ({len(idx)} entries); the "
                         f"configuration asks for {n} steps numbered 0..{n - 1}")
        for s in r["steps"]:
            want = s["proxy_reward"] - r["kl_coef"] * s["kl"]
            if not close(s["reward"], want, 1e-4):
                probs.append(f"{run} step {s['step']}: reward {s['reward']:.6g} is not "
                             f"proxy_reward - kl_coef * kl = {want:.6g}")
                break
        curve = r["eval_curve"]
        fe = log["final_evaluation"]
        if curve[0]["step"] != 0 or curve[-1]["step"] != n:
            probs.append(f"{run}.eval_curve must start at step 0 and end at step {n}")
        elif not close(curve[0]["true_quality"], fe["sft"]["true_quality"], 1e-6):
            probs.append(f"{run}.eval_curve[0] (before any update) disagrees with "
                         "final_evaluation.sft.true_quality")
        elif not close(curve[-1]["true_quality"], fe[run]["true_quality"], 1e-6):
            probs.append(f"{run}.eval_curve[-1] disagrees with final_evaluation.{run}.true_quality")
    fe = log["final_evaluation"]
    gain = fe["rl"]["true_quality"] - fe["sft"]["true_quality"]
    if not close(fe["true_quality_gain"], gain, 1e-6):
        probs.append(f"final_evaluation.true_quality_gain = {fe['true_quality_gain']:.6g} but "
                     f"rl - sft true_quality = {gain:.6g}")
    if abs(fe["sft"]["kl"]) > 1e-5:
        probs.append(f"final_evaluation.sft.kl is {fe['sft']['kl']:.3g}; the SFT policy against "
                     "itself has KL 0")
    rm = log["reward_model"]
    if rm["test_pairs"] != cfg["reward_model"]["pairs_test"]:
        probs.append(f"reward_model.test_pairs = {rm['test_pairs']} but the configuration has "
                     f"pairs_test = {cfg['reward_model']['pairs_test']}")
    if rm["test_correct"] > rm["test_pairs"] or \
            abs(rm["test_accuracy"] - rm["test_correct"] / rm["test_pairs"]) > 1e-9:
        probs.append(f"reward_model.test_accuracy = {rm['test_accuracy']} is not "
                     f"test_correct / test_pairs = {rm['test_correct']}/{rm['test_pairs']}")
    if log["sft"]["steps"] != cfg["sft"]["steps"]:
        probs.append("sft.steps disagrees with config.sft.steps")
    return probs


# ---------------------------------------------------------------------------------------------
# GPU tier: reference setting and evaluation
# ---------------------------------------------------------------------------------------------
_REF = None


def reference_package():
    """The reference given code (solutions/hw12) imported as the private package ``_hw12_ref``,
    so that it never mixes with a submission's ``hw12``."""
    global _REF
    if _REF is None:
        if not (REFERENCE_DIR / "rlhf_models.py").is_file():
            raise RuntimeError(f"reference code not found at {REFERENCE_DIR}; the GPU tier runs "
                               "from the course repository")
        name = "_hw12_ref"
        spec = importlib.util.spec_from_file_location(
            name, REFERENCE_DIR / "__init__.py" if (REFERENCE_DIR / "__init__.py").exists() else None,
            submodule_search_locations=[str(REFERENCE_DIR)])
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[name] = pkg
        if spec.loader is not None:
            spec.loader.exec_module(pkg)
        import importlib as _il

        _REF = {m: _il.import_module(f"{name}.{m}") for m in ("rlhf", "rlhf_data", "rlhf_models")}
    return _REF


# Sizes of the fixed setting: "full" on CUDA, "reduced" for the CPU run of the same logic in CI.
WORLD_SIZES = {
    "full": dict(train=4000, test=256, sft_steps=600, pairs=2500, rm_steps=400, rl_steps=80,
                 prompts_per_step=32, samples_per_prompt=4),
    "reduced": dict(train=2000, test=128, sft_steps=300, pairs=1200, rm_steps=200, rl_steps=25,
                    prompts_per_step=16, samples_per_prompt=4),
}
WORLD_VERSION = 1


def reference_world(size: str = "reduced", cache_dir: Optional[Path] = None) -> Dict[str, Any]:
    """The fixed setting of the GPU-tier test, built on the CPU with fixed seeds (so the same on
    every machine) and cached in ``data/cache/`` (or ``HW12_RLHF_CACHE``).

    Returns a dict: "checkpoint" (plain-data SFT policy + reward model + tokenizer),
    "train_ids"/"train_mask" (prompts), "test" (held-out corpus entries),
    "test_ids"/"test_mask", "sizes".
    """
    ref = reference_package()
    D, M, R = ref["rlhf_data"], ref["rlhf_models"], ref["rlhf"]
    sz = WORLD_SIZES[size]
    cache_dir = Path(os.environ.get("HW12_RLHF_CACHE", cache_dir or ROOT / "data" / "cache"))
    path = cache_dir / f"rlhf_world_{size}_v{WORLD_VERSION}.pt"
    corpus = D.make_corpus(sz["train"], seed=0)
    test = D.make_corpus(sz["test"], seed=10_000)
    if path.is_file():
        ckpt = M.read_checkpoint(path)
        tok = _tokenizer_from_string(ckpt["tokenizer"])
    else:
        ckpt, tok = _build_world(D, M, R, corpus, sz)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        M.save_checkpoint(tmp, ckpt)
        os.replace(tmp, path)
    ids, mask = D.encode_articles(tok, [c["article"] for c in corpus])
    tids, tmask = D.encode_articles(tok, [c["article"] for c in test])
    return {"checkpoint": ckpt, "tokenizer": tok, "train_ids": ids, "train_mask": mask,
            "test": test, "test_ids": tids, "test_mask": tmask, "sizes": sz}


def _tokenizer_from_string(s: str):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(s), pad_token="<pad>",
                                   eos_token="</s>", unk_token="<unk>", sep_token="<sep>")


def _build_world(D, M, R, corpus, sz):
    import torch

    torch.manual_seed(0)  # the tokenizer and loops are seeded explicitly; this covers the rest
    tok = D.train_tokenizer([c["article"] for c in corpus] + [c["demo"] for c in corpus])
    ids, mask = D.encode_articles(tok, [c["article"] for c in corpus])
    labels = D.encode_summaries(tok, [c["demo"] for c in corpus])
    policy = M.build_policy(len(tok), M.ModelConfig(seed=0))
    M.train_sft(policy, ids, mask, labels, steps=sz["sft_steps"], seed=0)
    pairs = M.make_preference_pairs(policy, tok, corpus[:sz["pairs"]], ids[:sz["pairs"]],
                                    mask[:sz["pairs"]], seed=1, oracle_temperature=0.05)
    rm = M.RewardModel.from_policy(policy)
    M.train_reward_model(rm, pairs["input_ids"], pairs["attention_mask"], pairs["chosen"],
                         pairs["rejected"], R.reward_model_loss, steps=sz["rm_steps"], lr=3e-4,
                         seed=2)
    return M.make_checkpoint(policy, rm, tok), tok


def evaluate_policy(world: Dict[str, Any], policy_state: Optional[Dict[str, Any]] = None,
                    device: str = "cpu", seed: int = 123) -> Dict[str, float]:
    """Hidden quality and KL of a policy (the SFT policy when ``policy_state`` is None) on the
    held-out articles, with the reference sampler and one seeded sample per article."""
    ref = reference_package()
    return ref["rlhf_models"].evaluate_policy(
        world["checkpoint"], policy_state, world["tokenizer"], world["test"], world["test_ids"],
        world["test_mask"], sequence_log_probs=ref["rlhf"].sequence_log_probs, device=device,
        seed=seed)

"""Trusted computations for the RLHF (Q4) hidden tests.

* Independent float64 implementations of the four Q4 formulas (written as loops or in a different
  form from the reference solution) and the wrong variants that hidden tests name in messages.
* The checks of ``submission_log.json``: its JSON Schema, read from the given file
  ``hw12/rlhf_log_schema.json`` that students also read (see ``jsonfiles``), and the consistency
  of its figures.
* ``reference_world``: the fixed setting of the GPU-tier test (corpus, tokenizer, SFT policy,
  reward model, held-out articles) built deterministically from the reference given code in
  ``solutions/hw12`` and cached on disk, and ``evaluate_policy`` to score a policy with the
  hidden quality. Only the GPU tier (run by staff from the repository) uses these two.

Importing this module imports neither torch nor transformers; the functions import what they use.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from autograder import ROOT
from autograder.grading.testlib.jsonfiles import load_schema, non_finite_paths  # noqa: F401 - the q4_log tests use both

REFERENCE_DIR = ROOT / "solutions" / "hw12"

# ---------------------------------------------------------------------------------------------
# Independent formulas
# ---------------------------------------------------------------------------------------------


def sequence_log_probs_oracle(logits, labels, *, shift: bool = False, reduce: str = "sum",
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


def policy_gradient_loss_oracle(logp, rewards, baseline=None) -> float:
    import torch

    logp, r = logp.double(), torch.as_tensor(rewards).double()
    adv = r if baseline is None else r - torch.as_tensor(baseline).double()
    return float(-sum(a * l for a, l in zip(adv.expand_as(logp).tolist(), logp.tolist())) / len(logp))


def reward_model_loss_oracle(chosen, rejected) -> float:
    """-mean log sigmoid(d) = mean softplus(-d), evaluated stably."""
    d = [float(c) - float(r) for c, r in zip(chosen, rejected)]
    return sum(max(-x, 0.0) + math.log1p(math.exp(-abs(x))) for x in d) / len(d)


def kl_penalized_rewards_oracle(scores, logp, ref_logp, kl_coef: float):
    return scores.double() - kl_coef * (logp.double() - ref_logp.double())


# ---------------------------------------------------------------------------------------------
# submission_log.json
# ---------------------------------------------------------------------------------------------
LOG_SCHEMA_FILE = "rlhf_log_schema.json"
LOG_SCHEMA: Dict[str, Any] = load_schema(LOG_SCHEMA_FILE)


def schema_problem(log: Any) -> Optional[str]:
    """None if ``log`` follows LOG_SCHEMA, else a sentence naming the first problem."""
    import jsonschema

    try:
        jsonschema.validate(log, LOG_SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        return f"at {where}: {e.message}"
    return None



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

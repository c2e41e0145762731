"""Fingerprints of your code: what your own functions compute on fixed inputs (given code).

The notebooks record a fingerprint in the files they write (``submission_log.json``,
``early_exit_answers.json``) next to the module's sha256. The grader calls the same function on the
module you submit and compares: a logged run whose fingerprint your submitted code does not
reproduce cannot have come from that code, and earns nothing for the log question.

A fingerprint is a list of floats. The inputs come from fixed seeds and the computations run in
float64 on the CPU, so the same code gives the same numbers on any machine (compared with a
relative tolerance of 1e-6). Each function takes the module (or anything with the same functions).
"""
from __future__ import annotations

import math

import torch

TOLERANCE = 1e-6  # relative (and absolute, near zero) difference allowed between two fingerprints


def _floats(*values) -> list[float]:
    """Flatten numbers and tensors into a list of Python floats."""
    out: list[float] = []
    for v in values:
        t = torch.as_tensor(v).detach().to("cpu", torch.float64).reshape(-1)
        out.extend(float(x) for x in t.tolist())
    return out


def rlhf_fingerprint(rlhf) -> list[float]:
    """``sequence_log_probs``, ``policy_gradient_loss``, ``reward_model_loss`` and
    ``kl_penalized_rewards`` of ``rlhf`` on a fixed batch of 3 sequences (length 5, vocabulary 7)."""
    g = torch.Generator().manual_seed(4182)
    logits = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)        # (B, L, V)
    labels = torch.randint(0, 7, (3, 5), generator=g)                       # (B, L)
    labels[0, 3:] = -100                                                    # padding
    labels[2, 0] = -100
    seq = rlhf.sequence_log_probs(logits, labels)                           # (B,)
    rewards = torch.randn(3, generator=g, dtype=torch.float64)
    baseline = torch.randn(3, generator=g, dtype=torch.float64)
    pg = rlhf.policy_gradient_loss(torch.as_tensor(seq), rewards, baseline)
    chosen = torch.randn(4, generator=g, dtype=torch.float64)
    rejected = torch.randn(4, generator=g, dtype=torch.float64)
    rm = rlhf.reward_model_loss(chosen, rejected)
    ref = torch.randn(3, generator=g, dtype=torch.float64)
    kl = rlhf.kl_penalized_rewards(rewards, torch.as_tensor(seq), ref, 0.1)
    return _floats(seq, pg, rm, kl)


def early_exit_fingerprint(early_exit) -> list[float]:
    """``EarlyExitResNet.predict``, ``count_macs``, ``early_exit_loss``, ``min_threshold_beating`` and
    ``prob_final_nonpositive`` of ``early_exit`` on a small model with fixed float64 weights."""
    g = torch.Generator().manual_seed(4184)
    model = early_exit.EarlyExitResNet(num_classes=4, widths=(4, 8), blocks_per_stage=1)
    model.double()
    state = {}
    for name, value in model.state_dict().items():
        value = torch.as_tensor(value)
        if not value.is_floating_point():
            state[name] = value
        elif name.endswith("running_var"):
            state[name] = torch.rand(value.shape, generator=g, dtype=torch.float64) + 0.5
        else:
            state[name] = torch.randn(value.shape, generator=g, dtype=torch.float64) * 0.6
    model.load_state_dict(state)
    model.eval()
    x = torch.randn(6, 3, 12, 12, generator=g, dtype=torch.float64)        # (B, C, H, W)
    predictions, exit_index, confidence = model.predict(x, 0.81)  # 4 of 6 leave at exit 0
    macs = early_exit.count_macs(model, x[:1])
    logits = [torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(2)]
    targets = torch.randint(0, 4, (5,), generator=g)
    loss = early_exit.early_exit_loss(logits, targets, [0.5, 1.0])
    threshold = early_exit.min_threshold_beating([0.1, 0.2, 0.3, 0.4], [0.5, 0.62, 0.71, 0.7], 0.6)
    prob = early_exit.prob_final_nonpositive(1.0, 3)
    return _floats(predictions, exit_index, confidence, macs, loss, threshold, prob)


def mismatch(recorded, recomputed: list[float]) -> str | None:
    """Why ``recorded`` (from a log) is not ``recomputed``, or None when they agree."""
    if not isinstance(recorded, list) or not all(isinstance(v, (int, float)) for v in recorded):
        return "it is not a list of numbers"
    if len(recorded) != len(recomputed):
        return f"it has {len(recorded)} numbers, the submitted code gives {len(recomputed)}"
    for i, (a, b) in enumerate(zip(recorded, recomputed)):
        if not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) > TOLERANCE * max(1.0, abs(b)):
            return f"number {i} is {a!r} in the log but {b!r} from the submitted code"
    return None


def require_match(file: str, recorded, module, module_path: str) -> None:
    """Raise AssertionError, in words a student can act on, unless ``recorded`` (the fingerprint in
    ``file``) is what ``module`` (the submitted ``module_path``) computes now."""
    compute = rlhf_fingerprint if module_path.endswith("rlhf.py") else early_exit_fingerprint
    if recorded is None:
        raise AssertionError(
            f"{file} has no fingerprint of your code; write it with the notebook's last cell "
            "(a log without one cannot be tied to the code you submit and earns nothing).")
    try:
        recomputed = compute(module)
    except Exception as e:  # noqa: BLE001 - any failure means the log cannot come from this code
        raise AssertionError(
            f"{file} cannot have been written by the submitted {module_path}: computing the "
            f"fingerprint with it failed ({type(e).__name__}: {e}). Re-run the notebook with the "
            "code you submit; the log earns nothing otherwise.") from None
    problem = mismatch(recorded, recomputed)
    if problem is not None:
        raise AssertionError(
            f"{file} was not written by the submitted {module_path}: its fingerprint (what your "
            f"functions compute on fixed inputs, recorded by the notebook) differs ({problem}). "
            "Re-run the notebook with the code you submit; the log earns nothing otherwise.")

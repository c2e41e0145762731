"""Trusted reference computations for the early-exit tests (HW12 Q3).

Everything here runs in the test runner, never in the student's process. Functions take and return
plain tensors and numbers, so they can check values that came back from a sandboxed submission.
"""
from __future__ import annotations

import importlib.util
import math
from typing import Sequence

from autograder import ROOT
from autograder.grading.testlib.jsonfiles import load_schema, non_finite_paths, schema_problems

ANSWERS_FILE = "early_exit_answers.json"
MODULE_FILE = "hw12/early_exit.py"

__all__ = [
    "ANSWERS_FILE", "ANSWERS_SCHEMA_FILE", "MODULE_FILE",
    "phi", "prob_final_nonpositive_oracle", "hoeffding_radius", "prob_final_nonpositive_mc_oracle",
    "predict_oracle", "early_exit_loss_oracle", "min_threshold_beating_oracle",
    "conv2d_macs_oracle", "linear_macs_oracle", "evaluate_early_exit_oracle", "data_module",
    "shapes10", "batches",
    "predict_stand_in", "validate_answers", "consistency_problems", "spike_threshold",
    "diagnose_predict", "spread_inputs", "thresholds_between",
]


# --------------------------------------------------------------------------------------------
# Q3a
# --------------------------------------------------------------------------------------------

def phi(z: float) -> float:
    """Standard normal CDF, accurate in the lower tail (erfc, no cancellation)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def prob_final_nonpositive_oracle(M: float, k: float) -> float:
    """P(Y <= 0 | Y_k = M) = Φ(-M / sqrt(2^(1-k))): the remaining sum X_{k+1} + ... is
    N(0, sum_{i>k} 2^-(i-1)) = N(0, 2^(1-k)) and independent of Y_k."""
    return phi(-float(M) / math.sqrt(2.0 ** (1.0 - float(k))))


def hoeffding_radius(n: int, false_fail: float) -> float:
    """ε with P(|p̂ - p| >= ε) <= false_fail for the mean of n independent Bernoulli draws
    (two-sided Hoeffding bound 2 exp(-2 n ε²))."""
    return math.sqrt(math.log(2.0 / false_fail) / (2.0 * n))


# Rows simulated at a time. The estimate does not depend on it (the generator is consumed in the
# same order, in blocks that are multiples of 16): it bounds the grader's memory, which at 100,000
# rows peaked 90 MB higher and made the early-exit grading meet the OOM killer at 540 MB.
MC_CHUNK = 20_000


def prob_final_nonpositive_mc_oracle(M: float, k: int, n: int, seed: int, terms: int = 60) -> float:
    """Monte-Carlo estimate of P(Y <= 0 | Y_k = M) from n simulated tails X_{k+1} + ... .

    Only the next ``terms`` terms are drawn; the rest has variance 2^(1-k-terms), far below the
    resolution of any feasible n (terms = 60 leaves a standard deviation below 1e-9 * 2^((1-k)/2)).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    i = torch.arange(k + 1, k + terms + 1, dtype=torch.float64)              # term indices
    std = torch.exp2(-(i - 1) / 2)                                           # sd of X_i
    hits = 0
    for start in range(0, n, MC_CHUNK):  # chunks of 20,000 x 60 floats: about 10 MB at a time
        m = min(MC_CHUNK, n - start)
        tail = (torch.randn(m, terms, generator=g, dtype=torch.float64) * std).sum(1)  # (m,)
        hits += int((M + tail <= 0).sum())
    return hits / n


# --------------------------------------------------------------------------------------------
# Q3b: predict, loss, MACs, evaluation
# --------------------------------------------------------------------------------------------

def predict_oracle(exit_logits: Sequence, threshold: float):
    """What predict must return, computed from the logits of every exit for every example.

    Returns (predictions, exit_index, confidence, margin): the first three as in the API; margin
    (B,) is the smallest |confidence_i - threshold| over the exits the example evaluated before
    leaving (the final exit's own confidence is not compared). Examples with a tiny margin may
    legitimately leave elsewhere because of rounding, so tests skip them.
    """
    import torch

    logits = [torch.as_tensor(z).detach().double() for z in exit_logits]
    K, B = len(logits), logits[0].shape[0]
    conf_all, pred_all = zip(*[torch.softmax(z, -1).max(-1) for z in logits])
    conf_all, pred_all = torch.stack(conf_all), torch.stack(pred_all)        # (K, B)
    leaves = conf_all >= threshold
    leaves[-1] = True
    exit_index = leaves.float().argmax(0)                                    # first True
    cols = torch.arange(B)
    gaps = (conf_all - threshold).abs()
    reached = torch.arange(K)[:, None] <= exit_index[None, :]
    reached[-1] = False
    margin = torch.where(reached, gaps, torch.full_like(gaps, math.inf)).min(0).values
    return pred_all[exit_index, cols], exit_index, conf_all[exit_index, cols], margin


def predict_stand_in(model, inputs, thresholds):
    """A stand-in for ``model``'s ``EarlyExitResNet.predict`` at the calls a test makes (each x of
    ``inputs`` with each of ``thresholds``): :func:`predict_oracle` on the model's exit logits in
    eval mode (``model.forward(x)``, given code), with predict's return types. A call on a model in
    training mode fails (evaluation must switch to eval mode); another input raises KeyError."""
    import torch

    model.eval()
    answers = []
    for x in inputs:
        logits = [torch.as_tensor(z) for z in model.forward(x)]
        for t in thresholds:
            pred, exit_index, conf, _ = predict_oracle(logits, t)
            answers.append((x, float(t), (pred, exit_index, conf.to(logits[0].dtype))))

    def predict(instance, x, threshold):
        assert not instance.training, ("predict was called on a model in training mode: switch "
                                       "the model to eval mode (model.eval()) before predicting")
        for known, t, answer in answers:
            if t == float(threshold) and known.shape == x.shape and torch.equal(known, x.cpu()):
                return answer
        raise KeyError("predict was called with an input the test did not prepare")

    return predict


def early_exit_loss_oracle(exit_logits: Sequence, targets, weights=None) -> float:
    """sum_k w_k * mean-over-batch cross-entropy of exit k, in float64."""
    import torch
    import torch.nn.functional as F

    K = len(exit_logits)
    w = [1.0] * K if weights is None else [float(v) for v in weights]
    t = torch.as_tensor(targets).long()
    return float(sum(wk * F.cross_entropy(torch.as_tensor(z).double(), t)
                     for wk, z in zip(w, exit_logits)))


def min_threshold_beating_oracle(thresholds, accuracies, target):
    """Smallest threshold with accuracy strictly above target, or None."""
    ok = [float(t) for t, a in zip(thresholds, accuracies) if float(a) > float(target)]
    return min(ok) if ok else None


def conv2d_macs_oracle(in_ch: int, out_ch: int, kernel: tuple, out_hw: tuple,
                       groups: int = 1) -> int:
    """MACs of one Conv2d application to one example: every output value needs
    (in_ch / groups) * kh * kw multiply-adds."""
    kh, kw = kernel
    return out_ch * out_hw[0] * out_hw[1] * (in_ch // groups) * kh * kw


def linear_macs_oracle(in_features: int, out_features: int) -> int:
    """MACs of one Linear application to one example (the bias add is not a multiply-add)."""
    return in_features * out_features


def evaluate_early_exit_oracle(preds, exits, confs, labels, num_exits: int,
                               exit_macs: Sequence[float]) -> dict:
    """The dict evaluate_early_exit should return, from per-example predict outputs (concatenated
    over batches) and the cumulative MACs of each exit."""
    import torch

    preds, exits, labels = (torch.as_tensor(v).long() for v in (preds, exits, labels))
    confs = torch.as_tensor(confs).double()
    n = int(labels.numel())
    counts = torch.bincount(exits, minlength=num_exits).double()
    frac = (counts / n).tolist()
    early = exits < num_exits - 1
    return {
        "accuracy": float((preds == labels).double().mean()),
        "exit_fraction": frac,
        "early_exit_rate": float(early.double().mean()),
        "confidence_early": float(confs[early].mean()) if bool(early.any()) else math.nan,
        "confidence_full": float(confs[~early].mean()) if bool((~early).any()) else math.nan,
        "mac_ratio": sum(f * m for f, m in zip(frac, exit_macs)) / float(exit_macs[-1]),
    }


# --------------------------------------------------------------------------------------------
# Trusted data
# --------------------------------------------------------------------------------------------

_DATA_MODULE = None


def data_module():
    """The reference ``hw12/early_exit_data.py`` (never the student's copy)."""
    global _DATA_MODULE
    if _DATA_MODULE is None:
        path = ROOT / "solutions" / "hw12" / "early_exit_data.py"
        spec = importlib.util.spec_from_file_location("_hw12_trusted_early_exit_data", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _DATA_MODULE = mod
    return _DATA_MODULE


def shapes10(n: int, seed: int, difficulty=None):
    """(images (n, 3, 32, 32), labels (n,), difficulty (n,)) from the trusted generator."""
    return data_module().make_shapes10(n, seed=seed, difficulty=difficulty)


def batches(images, labels, batch_size: int) -> list:
    """List of (x, y) pairs, in order."""
    return [(images[i:i + batch_size], labels[i:i + batch_size])
            for i in range(0, images.shape[0], batch_size)]


# --------------------------------------------------------------------------------------------
# The answers file of the notebook
# --------------------------------------------------------------------------------------------


def spike_threshold(thresholds: Sequence[float], mac_ratios: Sequence[float]) -> float:
    """Threshold (upper end) of the largest change of the MAC ratio between neighbouring sweep
    points, thresholds sorted ascending; the first one wins a tie."""
    best, best_j = -1.0, 1
    for j in range(1, len(thresholds)):
        change = abs(float(mac_ratios[j]) - float(mac_ratios[j - 1]))
        if change > best + 1e-12:
            best, best_j = change, j
    return float(thresholds[best_j])


ANSWERS_SCHEMA_FILE = "early_exit_answers_schema.json"


def validate_answers(obj) -> list:
    """Problems (strings a student can act on) with a parsed early_exit_answers.json; [] if fine.

    The file must follow the JSON Schema ``hw12/early_exit_answers_schema.json`` (its
    ``description`` of each field is what a message says was expected), hold only finite numbers,
    and meet what a schema cannot say: the exit fractions sum to 1, the sweep's lists have equal
    lengths with strictly increasing thresholds, the cumulative MACs never decrease.
    """
    p = schema_problems(obj, load_schema(ANSWERS_SCHEMA_FILE))
    if p:
        return p
    p = [f"{path.lstrip('/').replace('/', '.')} must be a finite number"
         for path in non_finite_paths(obj)]
    if p:
        return p
    ef = obj["q3b_iii"]["exit_fraction"]
    if abs(sum(ef) - 1.0) > 1e-6:
        p.append(f"q3b_iii.exit_fraction sums to {sum(ef):.6f}, not 1")
    lists = obj["sweep"]
    if len({len(lists[k]) for k in ("thresholds", "accuracy", "mac_ratio", "early_exit_rate")}) > 1:
        p.append("the sweep lists (thresholds, accuracy, mac_ratio, early_exit_rate) must have "
                 "equal lengths")
    th = lists["thresholds"]
    if any(b <= a for a, b in zip(th, th[1:])):
        p.append("sweep.thresholds must be strictly increasing")
    cum = obj["macs"]["early_exit_cumulative"]
    if any(b < a for a, b in zip(cum, cum[1:])):
        p.append("macs.early_exit_cumulative must be non-decreasing (exit i includes exits < i)")
    return p


def consistency_problems(obj) -> list:
    """Disagreements between the numbers of a schema-valid answers file (see validate_answers).

    The answers must come from one sweep: the 3b-ii threshold is one of the sweep's thresholds and
    its row gives the 3b-ii/iii/iv numbers; 3b-vi is min_threshold_beating over the sweep against
    the 3b-v accuracy; the spike threshold is the upper end of the largest MAC-ratio change; the
    MAC ratio follows from the exit fractions and the cumulative MACs; raising the threshold never
    lowers the MAC ratio nor raises the early-exit rate.
    """
    p: list = []
    sw, cum = obj["sweep"], obj["macs"]["early_exit_cumulative"]
    th = sw["thresholds"]

    def close(a, b, tol=1e-6):
        return a is not None and b is not None and abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))

    t2 = obj["q3b_ii"]["threshold"]
    rows = [j for j, t in enumerate(th) if abs(t - t2) <= 1e-9]
    if not rows:
        p.append(f"q3b_ii.threshold = {t2} is not one of sweep.thresholds; include it in the sweep")
    else:
        j = rows[0]
        for (sec, key), col in {("q3b_ii", "early_exit_accuracy"): "accuracy",
                                ("q3b_iii", "early_exit_rate"): "early_exit_rate",
                                ("q3b_iv", "mac_ratio"): "mac_ratio"}.items():
            if not close(obj[sec][key], sw[col][j]):
                p.append(f"{sec}.{key} = {obj[sec][key]} differs from the sweep's {col} "
                         f"{sw[col][j]} at the same threshold {t2}")
    ef = obj["q3b_iii"]["exit_fraction"]
    if not close(obj["q3b_iii"]["early_exit_rate"], 1.0 - ef[-1]):
        p.append("q3b_iii.early_exit_rate should equal 1 - exit_fraction[-1] (the fraction that "
                 "left before the final exit)")
    if len(ef) != len(cum):
        p.append("q3b_iii.exit_fraction and macs.early_exit_cumulative need one entry per exit")
    else:
        implied = sum(f * m for f, m in zip(ef, cum)) / cum[-1]
        if not close(obj["q3b_iv"]["mac_ratio"], implied, 1e-4):
            p.append(f"q3b_iv.mac_ratio = {obj['q3b_iv']['mac_ratio']:.6f} but the exit fractions "
                     f"and cumulative MACs give {implied:.6f}")
    want = min_threshold_beating_oracle(th, sw["accuracy"], obj["q3b_v"]["small_accuracy"])
    got = obj["q3b_vi"]["min_threshold"]
    if (want is None) != (got is None) or (want is not None and not close(got, want, 1e-9)):
        p.append(f"q3b_vi.min_threshold = {got} but the smallest sweep threshold whose accuracy "
                 f"beats the smaller ResNet's is {want}")
    elif want is not None:
        j = th.index(want)
        if not close(obj["q3b_vi"]["accuracy_at_min_threshold"], sw["accuracy"][j]) or \
                not close(obj["q3b_vi"]["mac_ratio_at_min_threshold"], sw["mac_ratio"][j]):
            p.append("q3b_vi accuracy/mac_ratio at the minimum threshold differ from the sweep row")
    spike = spike_threshold(th, sw["mac_ratio"])
    if not close(obj["q3b_iv"]["spike_threshold"], spike, 1e-9):
        p.append(f"q3b_iv.spike_threshold = {obj['q3b_iv']['spike_threshold']} but the largest "
                 f"change of the sweep's MAC ratio ends at threshold {spike}")
    if any(b < a - 1e-9 for a, b in zip(sw["mac_ratio"], sw["mac_ratio"][1:])):
        p.append("sweep.mac_ratio decreases somewhere as the threshold grows; a higher threshold "
                 "can only keep examples running longer")
    if any(b > a + 1e-9 for a, b in zip(sw["early_exit_rate"], sw["early_exit_rate"][1:])):
        p.append("sweep.early_exit_rate increases somewhere as the threshold grows")
    m = obj["macs"]
    if not m["small"] < m["baseline"]:
        p.append("macs.small should be below macs.baseline (the smaller ResNet is cheaper)")
    if abs(cum[-1] - m["baseline"]) > 0.01 * m["baseline"]:
        p.append("macs.early_exit_cumulative[-1] (the full early-exit model) should be within 1% "
                 "of macs.baseline (same backbone, tiny extra heads)")
    for sec, key in [("q3b_i", "baseline_accuracy"), ("q3b_ii", "early_exit_accuracy"),
                     ("q3b_v", "small_accuracy")]:
        if obj[sec][key] < 0.15:
            p.append(f"{sec}.{key} = {obj[sec][key]:.3f} is near chance (0.10): did the model train?")
    return p


def _first_exit(scores, threshold):
    """Index of the first exit whose score >= threshold (the last exit if none). scores: (K, B)."""
    import torch

    leaves = scores >= threshold
    leaves[-1] = True
    return leaves.float().argmax(0), torch.arange(scores.shape[1])


def diagnose_predict(pred, exit_index, conf, exit_logits, threshold, tol: float = 1e-4,
                     what: str = "predict"):
    """None if predict's outputs match the rule on every example not within ``tol`` of a decision
    boundary; otherwise a message naming the most likely mistake."""
    import torch

    pred = torch.as_tensor(pred)
    exit_index = torch.as_tensor(exit_index)
    conf = torch.as_tensor(conf)
    logits = [torch.as_tensor(z).detach().double() for z in exit_logits]
    K, B = len(logits), logits[0].shape[0]
    for name, v, kind in (("predictions", pred, "int"), ("exit_index", exit_index, "int"),
                          ("confidence", conf, "float")):
        if tuple(v.shape) != (B,):
            return f"{what}: {name} has shape {tuple(v.shape)}, expected ({B},)"
        if kind == "int" and v.dtype != torch.int64:
            return f"{what}: {name} has dtype {v.dtype}, expected torch.int64 (long)"
        if kind == "float" and not v.is_floating_point():
            return f"{what}: confidence has dtype {v.dtype}, expected a floating dtype"
    if bool(((exit_index < 0) | (exit_index >= K)).any()):
        bad = exit_index[(exit_index < 0) | (exit_index >= K)][0]
        hint = " (exit_index is off by one: count heads from 0)" if int(bad) == K else ""
        return f"{what}: exit_index {int(bad)} is outside 0..{K - 1}{hint}"
    want_p, want_e, want_c, margin = predict_oracle(logits, threshold)
    ok = margin > tol
    if int(ok.sum()) == 0:
        return None
    probs = torch.stack([torch.softmax(z, -1).max(-1).values for z in logits])   # (K, B)
    maxlog = torch.stack([z.max(-1).values for z in logits])                     # (K, B)
    e, c, p = exit_index.long(), conf.double(), pred.long()
    wrong_e = (e != want_e) & ok
    if bool(wrong_e.any()):
        j = int(wrong_e.nonzero()[0])
        ml_e, _ = _first_exit(maxlog, threshold)
        cols = torch.arange(B)
        conf_is_logit = torch.allclose(c[ok], maxlog[e.clamp(0, K - 1), cols][ok], rtol=1e-3, atol=1e-4)
        if conf_is_logit or (bool((e[ok] == ml_e[ok]).all()) and not bool((ml_e == ml_e[0]).all())):
            return (f"{what}: exits follow the max logit, not the max softmax probability "
                    f"(max logit used instead of max softmax probability); threshold {threshold:.4g}")
        if bool((e[ok] == want_e[ok] + 1).all()) or bool((e[ok] == want_e[ok] - 1).all()):
            return (f"{what}: exit_index is off by one (heads are counted from 0; the first "
                    "head is exit 0)")
        if bool((e == e[0]).all()) and not bool((want_e[ok] == want_e[ok][0]).all()):
            return (f"{what}: every example of the batch left at exit {int(e[0])}, but at threshold "
                    f"{threshold:.4g} they should leave at different exits: exit decided per batch, "
                    "not per example")
        if bool((e[ok] == ml_e[ok]).all()):
            return (f"{what}: exits follow the max logit, not the max softmax probability "
                    f"(max logit used instead of max softmax probability); threshold {threshold:.4g}")
        return (f"{what}: example {j} of the batch left at exit {int(e[j])}, but the first exit "
                f"whose max softmax probability is >= {threshold:.4g} is exit {int(want_e[j])} "
                f"(its confidences per exit: {[round(float(v), 4) for v in probs[:, j]]})")
    cols = torch.arange(B)
    if not torch.allclose(c[ok], want_c[ok], rtol=1e-3, atol=1e-4):
        j = int(((c - want_c).abs() > 1e-4 + 1e-3 * want_c.abs()).logical_and(ok).nonzero()[0])
        if torch.allclose(c[ok], probs[-1][ok], rtol=1e-3, atol=1e-4):
            return (f"{what}: confidence is taken from the final head; it must be the max softmax "
                    "probability of the exit that answered")
        if torch.allclose(c[ok], maxlog[e, cols][ok], rtol=1e-3, atol=1e-4):
            return (f"{what}: confidence is the max logit; it must be the max softmax probability "
                    "(max logit used instead of max softmax probability)")
        return (f"{what}: example {j} reports confidence {float(c[j]):.5f}, but the max softmax "
                f"probability of exit {int(e[j])} is {float(want_c[j]):.5f}")
    if bool(((p != want_p) & ok).any()):
        j = int(((p != want_p) & ok).nonzero()[0])
        final = torch.stack([z.argmax(-1) for z in logits])[-1]
        if bool((p[ok] == final[ok]).all()):
            return (f"{what}: predictions come from the final head; each example must be "
                    "predicted by the exit it left at")
        return (f"{what}: example {j} predicted class {int(p[j])}, but exit {int(e[j])}'s logits "
                f"have their maximum at class {int(want_p[j])}")
    return None


def spread_inputs(n: int, seed: int, low: float = 3.0, high: float = 60.0):
    """(n, 3, 32, 32) Gaussian images with per-example scales log-uniform in [low, high].

    A freshly initialised ResNet in eval mode is nearly positively homogeneous, so the scale of an
    input sets how confident every head is: the batch then covers a wide range of confidences and
    a threshold in the middle sends examples to different exits.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    scale = torch.exp(torch.empty(n).uniform_(math.log(low), math.log(high), generator=g))
    return torch.randn(n, 3, 32, 32, generator=g) * scale[:, None, None, None]


def thresholds_between(exit_logits, quantiles=(0.3, 0.6, 0.85)) -> list:
    """Thresholds near the given quantiles of all exits' confidences, each placed halfway between
    two neighbouring confidence values so that no example sits on a decision boundary."""
    import torch

    conf = torch.cat([torch.softmax(torch.as_tensor(z).detach().double(), -1).max(-1).values
                      for z in exit_logits[:-1]]).sort().values
    out = []
    for q in quantiles:
        j = min(max(1, int(q * len(conf))), len(conf) - 1)
        out.append(float((conf[j - 1] + conf[j]) / 2))
    return out

"""Project tests of the early-exit part (Q3) beyond the graded test files.

* the reference passes every CPU-tier case; the stubs fail every case and import cleanly;
* every mutant in tests/mutants/early_exit/<question>/ loses points on its question and on no other,
  and every alternative keeps full marks (graded in-process in ``make test-extended``; ``validate``
  grades the same bank through the sandbox in ``make test``);
* the Monte-Carlo check of 3(a) states its false-fail probability and has the power to reject the
  wrong variances of the mutant bank;
* count_macs agrees with hand-computed MACs of conv and linear layers;
* the answers file: the reference file is valid and consistent, and broken or hand-edited files
  lose only q3b_answers, with a message that names the problem;
* predict: the saving is real (later stages see fewer examples), and its outputs agree with an
  example-by-example loop;
* the reduced CPU run of the GPU-tier test (q3b_gpu) passes for the reference, fails for stubs,
  does not charge a predict that is wrong on the CPU as well, and fails one that is not
  reproducible.
"""
from __future__ import annotations

import copy
import json
import math

import inprocess
import pytest
import torch

from autograder.checks.mutants import bank_files

SOL = inprocess.SOL
BANK = inprocess.ROOT / "tests" / "mutants"
CPU_QUESTIONS = ["q3a", "q3b_model", "q3b_loss", "q3b_macs", "q3b_eval", "q3b_threshold",
                 "q3b_answers"]
ANSWERS = "early_exit_answers.json"


def _files(source: str, answers: dict | None = None) -> inprocess.Submission:
    files = {"hw12/early_exit.py": source}
    if answers is None and (SOL / ANSWERS).exists():
        answers = json.loads((SOL / ANSWERS).read_text())
    run = answers and inprocess.as_run_with("early_exit", source, answers)
    if run is not None:  # as if the notebook had been run with this module (None: it stops)
        files[ANSWERS] = json.dumps(run)
    return inprocess.Submission(files)


def _grade(source: str, questions, submission=None, messages=None) -> dict:
    mod = inprocess.module_from_source(source, "early_exit")
    return inprocess.grade("early_exit", "early_exit", mod, submission or _files(source), questions,
                           messages)


@pytest.fixture(scope="module")
def ee():
    return inprocess.module_from_source(inprocess.reference_source("early_exit"), "early_exit")


@pytest.fixture(scope="module")
def reference_answers():
    path = SOL / ANSWERS
    assert path.exists(), ("solutions/early_exit_answers.json is missing: run "
                           "`python -m autograder record --part early_exit`")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------
# grading outcomes
# ---------------------------------------------------------------------------------------------
def test_reference_passes_every_cpu_case(reference_answers):
    assert _grade(inprocess.reference_source("early_exit"), CPU_QUESTIONS) == {}


def test_stubs_import_cleanly_and_fail_every_case():
    stub = inprocess.stub_source(inprocess.reference_source("early_exit"), "early_exit")
    assert "BEGIN SOLUTION" not in stub and "active[leave]" not in stub
    failed = _grade(stub, CPU_QUESTIONS, inprocess.Submission({"hw12/early_exit.py": stub}))
    for q in CPU_QUESTIONS:
        n = len(inprocess.cases("early_exit", q))
        assert len(failed.get(q, [])) == n, f"the stub passes some cases of {q}: {failed.get(q)}"


VARIANTS = bank_files(BANK, "early_exit")


def test_bank_is_large_enough():
    kinds = [inprocess.variant_source(p)[0].kind for p in VARIANTS]
    assert kinds.count("mutant") >= 10 and kinds.count("alternative") >= 3


@pytest.mark.extended  # make test's validate grades every variant through the sandbox
@pytest.mark.parametrize("path", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_variant(path):
    """A mutant loses points on its own question only, an alternative on none (the answers file as
    the notebook run with that code writes it). Graded in-process, as a second opinion on
    ``validate``, which grades the same bank through the sandbox in ``make test``."""
    problem = inprocess.variant_problem("early_exit", path, _files)
    assert problem is None, f"{path.stem}: {problem}"


# ---------------------------------------------------------------------------------------------
# 3(a): the Monte-Carlo check's error rates
# ---------------------------------------------------------------------------------------------
def test_monte_carlo_check_false_fail_and_power():
    """The hidden q3a Monte-Carlo case accepts |value − p̂| < ε, ε the Hoeffding radius for n tails at
    false-fail probability 1e-6/3 per case (≤ 1e-6 for its three cases). A wrong formula q is
    rejected whenever |q − p| ≥ 2ε (then |q − p̂| > ε when |p̂ − p| < ε); every plausible wrong
    variance is that far off on at least one case, and the simulation itself lands within ε."""
    from autograder.grading.testlib import early_exit_oracles as o

    src = (inprocess.ROOT / "autograder" / "tests" / "early_exit" / "hidden" / "q3a.py").read_text()
    assert "n = 400_000" in src and "hoeffding_radius(n, 1e-6 / 3)" in src
    cases = [(0.5, 2), (-0.4, 1), (0.2, 4)]
    assert "[(0.5, 2), (-0.4, 1), (0.2, 4)]" in src
    n = 400_000
    eps = o.hoeffding_radius(n, 1e-6 / 3)
    assert 3 * 2 * math.exp(-2 * n * eps ** 2) <= 1e-6 * (1 + 1e-9)
    wrong = {
        "variance 2^-k": lambda M, k: o.phi(-M / math.sqrt(2.0 ** -k)),
        "variance 2^(2-k)": lambda M, k: o.phi(-M / math.sqrt(2.0 ** (2 - k))),
        "variance 2 - 2^(1-k) (of Y_k, not of the rest)": lambda M, k: o.phi(-M / math.sqrt(2 - 2.0 ** (1 - k))),
        "variance used as std": lambda M, k: o.phi(-M / 2.0 ** (1 - k)),
        "sign flipped": lambda M, k: o.phi(M / math.sqrt(2.0 ** (1 - k))),
    }
    for name, f in wrong.items():
        gaps = [abs(f(M, k) - o.prob_final_nonpositive_oracle(M, k)) for M, k in cases]
        assert max(gaps) >= 2 * eps, f"{name}: largest gap {max(gaps):.4f} < 2ε = {2 * eps:.4f}"
    for case, (M, k) in enumerate(cases):  # the seeds the test uses
        p_hat = o.prob_final_nonpositive_mc_oracle(M, k, n, seed=1000 + case)
        assert abs(p_hat - o.prob_final_nonpositive_oracle(M, k)) < eps


def test_prob_final_nonpositive_tail_and_constants(ee):
    assert ee.Q3A_II == pytest.approx(0.5 * math.erfc(5 / math.sqrt(2)), rel=1e-12)
    z = -1e-5 / math.sqrt(2 * 2.0 ** -40)          # the erratum: z ≈ −7.41455
    assert z == pytest.approx(-7.41455, abs=5e-6)
    assert ee.Q3A_III == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)), rel=1e-12)
    assert 6.0e-14 < ee.Q3A_III < 6.2e-14
    t = ee.prob_final_nonpositive(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([1, 3]))
    assert t.dtype == torch.float64 and t[0] == 0.5


# ---------------------------------------------------------------------------------------------
# MACs from torch.utils.flop_counter agree with hand counts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cin,cout,k,stride,hw", [(3, 8, 3, 1, 32), (8, 16, 3, 2, 16), (4, 4, 1, 1, 8)])
def test_count_macs_conv_by_hand(ee, cin, cout, k, stride, hw):
    conv = torch.nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
    out = (hw + 2 * (k // 2) - k) // stride + 1
    assert ee.count_macs(conv, torch.randn(5, cin, hw, hw)) == cout * out * out * cin * k * k


def test_count_macs_linear_and_mode(ee):
    net = torch.nn.Sequential(torch.nn.Linear(20, 7), torch.nn.BatchNorm1d(7), torch.nn.Linear(7, 3))
    net.train()
    assert ee.count_macs(net, torch.randn(4, 20)) == 20 * 7 + 7 * 3
    assert all(m.training for m in net.modules()), "count_macs must restore the train mode"
    assert int(net[1].num_batches_tracked) == 0, "count_macs must not update BatchNorm statistics"


def test_full_model_macs_match_the_baseline(ee):
    from hw12.early_exit_models import ResNet, SmallResNet

    x = torch.randn(2, 3, 32, 32)
    model, base = ee.EarlyExitResNet(), ResNet()
    cum = [ee.count_macs(model.exits_up_to(i), x) for i in range(model.num_exits)]
    assert cum == sorted(cum) and abs(cum[-1] - ee.count_macs(base, x)) < 1e-3 * cum[-1]
    assert 0.4 < ee.count_macs(SmallResNet(), x) / cum[-1] < 0.6


# ---------------------------------------------------------------------------------------------
# predict: saving and per-example semantics
# ---------------------------------------------------------------------------------------------
def test_predict_equals_an_example_by_example_loop(ee):
    from autograder.grading.testlib.early_exit_oracles import spread_inputs, thresholds_between

    torch.manual_seed(0)
    model = ee.EarlyExitResNet(widths=(4, 8, 16), blocks_per_stage=1).eval()
    x = spread_inputs(24, seed=3)
    for t in thresholds_between(model.forward(x)) + [0.0, 1.5]:
        p, e, c = model.predict(x, t)
        for j in range(x.shape[0]):
            pj, ej, cj = model.predict(x[j:j + 1], t)
            assert (int(pj), int(ej)) == (int(p[j]), int(e[j]))
            assert float(cj) == pytest.approx(float(c[j]), abs=1e-5)
        model.reset_stage_counts()
        model.predict(x, t)
        assert model.stage_counts() == [int((e >= s).sum()) for s in range(3)]


# ---------------------------------------------------------------------------------------------
# the answers file
# ---------------------------------------------------------------------------------------------
def test_reference_answers_are_valid_and_consistent(reference_answers):
    from autograder.grading.testlib.early_exit_oracles import consistency_problems, validate_answers

    assert validate_answers(reference_answers) == []
    assert consistency_problems(reference_answers) == []
    assert reference_answers["quick_mode"] is False, "record the reference with --size cpu or full"


BROKEN_ANSWERS = {  # name: (edit in place, words the message must contain)
    "percent": (lambda d: d["q3b_i"].__setitem__("baseline_accuracy", 57.3), "not a percent"),
    "missing section": (lambda d: d.pop("q3b_v"), "q3b_v"),
    "edited min threshold": (lambda d: d["q3b_vi"].__setitem__(
        "min_threshold", max(d["sweep"]["thresholds"])), "min_threshold"),
    "edited MAC ratio": (lambda d: d["q3b_iv"].__setitem__(
        "mac_ratio", d["q3b_iv"]["mac_ratio"] * 0.8), "mac_ratio"),
    "wrong schema": (lambda d: d.__setitem__("schema", "v0"), "schema"),
    "missing field": (lambda d: d["macs"].pop("small"), "macs.small is missing"),
    "not finite": (lambda d: d["q3b_v"].__setitem__("small_accuracy", math.nan),
                   "q3b_v.small_accuracy must be a finite number"),
    "exit fractions as one number": (lambda d: d["q3b_iii"].__setitem__("exit_fraction", 0.5),
                                     "q3b_iii.exit_fraction = 0.5 must be a list"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_ANSWERS))
def test_broken_answers_fail_q3b_answers_with_a_message(reference_answers, name):
    from autograder.grading.testlib.early_exit_oracles import consistency_problems, validate_answers

    edit, words = BROKEN_ANSWERS[name]
    bad = copy.deepcopy(reference_answers)
    edit(bad)
    problems = validate_answers(bad) or consistency_problems(bad)
    assert problems and any(words in p for p in problems), (name, problems)
    src = inprocess.reference_source("early_exit")
    failed = _grade(src, ["q3b_answers"], _files(src, bad))
    assert failed.get("q3b_answers"), (name, failed)


@pytest.mark.parametrize("text", [None, "{not json", "[]", json.dumps({"schema": 1})])
def test_missing_or_malformed_answers_file(text):
    src = inprocess.reference_source("early_exit")
    files = {"hw12/early_exit.py": src}
    if text is not None:
        files[ANSWERS] = text
    failed = _grade(src, ["q3b_answers"], inprocess.Submission(files))
    assert len(failed.get("q3b_answers", [])) == 4, failed


def test_only_q3b_answers_reads_the_answers_file():
    """So a missing or broken answers file costs q3b_answers and nothing else."""
    import inspect

    readers = {q for q in CPU_QUESTIONS for c in inprocess.cases("early_exit", q)
               if "submission" in inspect.signature(c.test_func).parameters}
    assert readers == {"q3b_answers"}


# ---------------------------------------------------------------------------------------------
# reduced CPU run of the GPU-tier test
# ---------------------------------------------------------------------------------------------
STATEFUL_PREDICT = """
_calls = [0]


class EarlyExitResNet(EarlyExitResNet):
    @torch.no_grad()
    def predict(self, x, threshold):
        _calls[0] += 1  # a hidden state that changes the answer from the second call on
        p, e, c = super().predict(x, threshold)
        return (p + _calls[0] - 1) % self.num_classes, e, c
"""


def test_q3b_gpu_reduced_cpu_grades_only_what_the_device_adds():
    """Reference passes; stubs score zero; a predict wrong alike everywhere (q3b_model's mutant) is
    not charged again; one whose answer is not reproducible between two runs of the same model
    (what a device dependence looks like on the CPU) fails the agreement check."""
    messages = {}
    assert _grade(inprocess.reference_source("early_exit"), ["q3b_gpu"]) == {}
    stub = inprocess.stub_source(inprocess.reference_source("early_exit"), "early_exit")
    assert "q3b_gpu" in _grade(stub, ["q3b_gpu"])
    _, all_blocks = inprocess.variant_source(BANK / "early_exit" / "q3b_model" / "predict_runs_all_blocks.py")
    assert _grade(all_blocks, ["q3b_gpu"]) == {}
    stateful = inprocess.reference_source("early_exit") + STATEFUL_PREDICT
    assert "q3b_gpu" in _grade(stateful, ["q3b_gpu"], messages=messages)
    assert "agrees with your predict on the CPU" in str(messages), messages


def test_offline_data_is_the_default():
    from hw12.early_exit_training import EarlyExitConfig

    cfg = EarlyExitConfig()
    assert cfg.data_source == "shapes10" and cfg.download is False
    assert EarlyExitConfig.describe().count("\n") + 1 == len(cfg.to_dict())


# ---------------------------------------------------------------------------------------------
# bad models: wrong output types and shapes get a message and cost only what they affect
# ---------------------------------------------------------------------------------------------
BAD_MODELS = {
    "predict returns lists": ("""
_ref_predict = EarlyExitResNet.predict
def _list_predict(self, x, threshold):
    return tuple(v.tolist() for v in _ref_predict(self, x, threshold))
EarlyExitResNet.predict = _list_predict
""", "tensor"),
    "predict returns (B, 1) tensors": ("""
_ref_predict = EarlyExitResNet.predict
def _column_predict(self, x, threshold):
    return tuple(v[:, None] for v in _ref_predict(self, x, threshold))
EarlyExitResNet.predict = _column_predict
""", "shape"),
    "predict returns int32 indices": ("""
_ref_predict = EarlyExitResNet.predict
def _int_predict(self, x, threshold):
    p, e, c = _ref_predict(self, x, threshold)
    return p.int(), e.int(), c
EarlyExitResNet.predict = _int_predict
""", "int64"),
}


@pytest.mark.parametrize("name", sorted(BAD_MODELS))
def test_bad_predict_outputs_lose_the_predict_question_with_a_message(name):
    code, word = BAD_MODELS[name]
    src = inprocess.reference_source("early_exit") + code
    messages: dict = {}
    failed = _grade(src, ["q3a", "q3b_model", "q3b_loss", "q3b_macs", "q3b_threshold"],
                    messages=messages)
    assert set(failed) == {"q3b_model"}, failed
    assert any(word in m for m in messages.values()), messages


def test_key_numbers_come_from_the_reference_answers(reference_answers):
    """solutions/written/q3b_reference_results.json (the key's Q3(b) numbers) and the reference
    answers file were written by the same run of `python -m autograder record --part early_exit`."""
    import sys

    from autograder.build.record import key_results

    sys.path.insert(0, str(SOL))
    try:
        from derivations import EXPERIMENT_KEYS
    finally:
        sys.path.remove(str(SOL))
    recorded = json.loads((SOL / "written" / "q3b_reference_results.json").read_text())
    derived = key_results(reference_answers)
    assert set(EXPERIMENT_KEYS) <= set(derived)
    for name in EXPERIMENT_KEYS:
        assert recorded[name] == pytest.approx(derived[name], rel=1e-12, nan_ok=True), name

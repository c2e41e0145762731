"""Project tests of the RLHF part (Q4) beyond the graded test files.

* the reference passes every CPU-tier case, stubs fail every function question and import cleanly;
* every mutant in tests/mutants/rlhf/<question>/ loses points on its question and on no other, and
  every alternative keeps full marks (graded in-process in ``make test-extended``; ``validate``
  grades the same bank through the sandbox in ``make test``);
* the hidden tests read the log schema students get, and the reference log
  (solutions/submission_log.json) is valid, consistent and hashes the reference rlhf.py;
* the given code: corpus, quality score, labeller statistics, config, one policy step;
* the reduced CPU run of the GPU-tier test (q4_gpu) passes for the reference, fails for stubs,
  does not charge a mistake of another question again, and fails a function that is not
  reproducible.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import types
from pathlib import Path

import inprocess
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOL = ROOT / "solutions"
BANK = ROOT / "tests" / "mutants"
CPU_QUESTIONS = ["q4_logprobs", "q4_pg_loss", "q4_rm_loss", "q4_kl_rewards", "q4_log"]
FUNCTION_QUESTIONS = CPU_QUESTIONS[:4]

sys.path.insert(0, str(ROOT))
from autograder.checks.mutants import bank_files  # noqa: E402

# ---------------------------------------------------------------------------------------------
# in-process grading helpers (tests/inprocess.py)
# ---------------------------------------------------------------------------------------------
_Submission = inprocess.Submission


def _cases(question: str):
    return inprocess.cases("rlhf", question)


def _module_from_source(source: str):
    return inprocess.module_from_source(source, "rlhf")


def _grade(module, submission, questions):
    """{question: [names of failing cases]} for the given questions."""
    return inprocess.grade("rlhf", "rlhf", module, submission, questions)


def _reference_files(rlhf_source: str | None = None, log_hash_of_source: bool = False):
    src = rlhf_source if rlhf_source is not None else (SOL / "hw12" / "rlhf.py").read_text()
    files = {"hw12/rlhf.py": src}
    log_path = SOL / "submission_log.json"
    if log_path.exists():
        log = json.loads(log_path.read_text())
        if log_hash_of_source:  # as if the notebook had been run with this module (None: it stops)
            log = inprocess.as_run_with("rlhf", src, log)
        if log is not None:
            files["submission_log.json"] = json.dumps(log)
    return files


def _stub_source(text: str) -> str:
    return inprocess.stub_source(text, "rlhf")


# ---------------------------------------------------------------------------------------------
# grading outcomes
# ---------------------------------------------------------------------------------------------
def test_reference_passes_every_cpu_case():
    ref = _module_from_source((SOL / "hw12" / "rlhf.py").read_text())
    assert (SOL / "submission_log.json").exists(), (
        "solutions/submission_log.json is missing: run `python -m autograder record --part rlhf`")
    assert _grade(ref, _Submission(_reference_files()), CPU_QUESTIONS) == {}


def test_stubs_import_cleanly_and_fail_every_function_question():
    stub = _stub_source((SOL / "hw12" / "rlhf.py").read_text())
    assert "BEGIN SOLUTION" not in stub and "F.logsigmoid(" not in stub
    mod = _module_from_source(stub)
    failed = _grade(mod, _Submission({"hw12/rlhf.py": stub}), CPU_QUESTIONS)
    for q in CPU_QUESTIONS:
        n = len(_cases(q))
        assert len(failed.get(q, [])) == n, f"stub passes some cases of {q}: {failed.get(q)}"


@pytest.mark.extended  # make test's validate grades every variant through the sandbox
@pytest.mark.parametrize("path", bank_files(BANK, "rlhf"), ids=lambda p: p.stem)
def test_mutant_bank(path):
    """A mutant loses points on its own question only, an alternative on none; each stands for a
    student who ran the notebook with that code. Graded in-process, as a second opinion on
    ``validate``, which grades the same bank through the sandbox in ``make test``."""
    problem = inprocess.variant_problem(
        "rlhf", path, lambda source: _Submission(_reference_files(source, log_hash_of_source=True)))
    assert problem is None, f"{path.stem}: {problem}"


def test_mutant_bank_size():
    kinds = [inprocess.variant_source(p)[0].kind for p in bank_files(BANK, "rlhf")]
    assert kinds.count("mutant") >= 10 and kinds.count("alternative") >= 4


def test_log_hash_mismatch_is_reported():
    src = (SOL / "hw12" / "rlhf.py").read_text() + "\n# edited after the run\n"
    failed = _grade(_module_from_source(src), _Submission(_reference_files(src)), ["q4_log"])
    assert failed == {"q4_log": ["test_code_hash_matches_submitted_module"]}


@pytest.mark.parametrize("damage", ["missing", "truncated", "nan", "inconsistent", "schema"])
def test_damaged_logs_fail_with_a_message(damage):
    files = _reference_files()
    log = json.loads(files["submission_log.json"])
    if damage == "missing":
        del files["submission_log.json"]
    elif damage == "truncated":
        files["submission_log.json"] = files["submission_log.json"][: len(files["submission_log.json"]) // 2]
    elif damage == "nan":
        log["rl"]["steps"][0]["loss"] = float("nan")
        files["submission_log.json"] = json.dumps(log)
    elif damage == "inconsistent":
        log["final_evaluation"]["true_quality_gain"] += 0.5
        files["submission_log.json"] = json.dumps(log)
    else:
        del log["final_evaluation"]["rl"]["kl"]
        files["submission_log.json"] = json.dumps(log)
    ref = _module_from_source((SOL / "hw12" / "rlhf.py").read_text())
    failed = _grade(ref, _Submission(files), ["q4_log"])
    assert failed.get("q4_log"), f"a {damage} log keeps full marks"


# ---------------------------------------------------------------------------------------------
# schema and reference log
# ---------------------------------------------------------------------------------------------
def test_grader_reads_the_schema_students_get(hw12):
    """One schema: the given hw12/rlhf_log_schema.json, read by the notebook's given code and, from
    the release, by the hidden tests."""
    from autograder.grading.testlib.rlhf_oracles import LOG_SCHEMA

    assert hw12.data.load_log_schema() == LOG_SCHEMA
    assert LOG_SCHEMA["properties"]["code"]["required"] == ["path", "sha256"]
    assert "replay" in LOG_SCHEMA["required"]


def test_reference_log_is_valid_and_current():
    from autograder.grading.testlib import rlhf_oracles as O
    from hw12.code_hash import file_sha256

    log = json.loads((SOL / "submission_log.json").read_text())
    assert O.schema_problem(log) is None
    assert O.non_finite_paths(log) == []
    assert O.consistency_problems(log) == []
    assert log["code"]["sha256"] == file_sha256(SOL / "hw12" / "rlhf.py"), (
        "solutions/hw12/rlhf.py changed since the reference log was written: run "
        "`python -m autograder record --part rlhf`")
    assert log["final_evaluation"]["true_quality_gain"] > 0


# ---------------------------------------------------------------------------------------------
# given code
# ---------------------------------------------------------------------------------------------
def test_rlhf_module_does_not_import_transformers():
    code = ("import sys; sys.path.insert(0, 'solutions'); import hw12.rlhf; "
            "assert 'transformers' not in sys.modules, 'rlhf.py imports transformers'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.fixture(scope="module")
def hw12():
    sys.path.insert(0, str(SOL))
    from hw12 import rlhf, rlhf_data, rlhf_models, rlhf_policy_optimisation

    return types.SimpleNamespace(rlhf=rlhf, data=rlhf_data, models=rlhf_models,
                                 optimisation=rlhf_policy_optimisation)


def test_corpus_is_deterministic_and_reference_scores_best(hw12):
    D = hw12.data
    a, b = D.make_corpus(50, seed=3), D.make_corpus(50, seed=3)
    assert a == b and a != D.make_corpus(50, seed=4)
    for c in a:
        assert all(f in c["article"].split() for f in c["facts"])
        q_ref = D.true_quality(c["summary"], c["summary"], c["facts"])
        assert abs(q_ref - 1.5) < 1e-9  # ROUGE-L 1 + bonus 0.5, no excess length
        assert D.true_quality(c["summary"] + " filler" * 10, c["summary"], c["facts"]) < q_ref


def test_preference_oracle_is_bradley_terry(hw12):
    """P(A preferred) = sigmoid(dq / T): with 40 000 draws at p = 0.75 the frequency is within
    0.75 +- 0.0124 (5.2 standard deviations; false-fail probability < 1e-6)."""
    import math

    import torch

    n = 40_000
    dq = 0.1 * math.log(3.0)  # sigmoid(dq / 0.1) = 0.75
    wins = hw12.data.preference_oracle(torch.full((n,), dq), torch.zeros(n), 0.1,
                                       torch.Generator().manual_seed(0))
    assert abs(float(wins.double().mean()) - 0.75) < 5.2 * math.sqrt(0.75 * 0.25 / n)


def test_config_help_and_unknown_keys(hw12):
    P = hw12.optimisation
    text = P.RLHFConfig.help()
    assert all(f in text for f in ("kl_coef", "samples_per_prompt", "baseline"))
    with pytest.raises(ValueError):
        P.RLHFConfig.from_dict({"kl_coeff": 0.1})


def test_one_policy_step_updates_the_policy(hw12):
    import torch

    R, D, M, P = hw12.rlhf, hw12.data, hw12.models, hw12.optimisation
    corpus = D.make_corpus(40, seed=0)
    tok = D.train_tokenizer([c["article"] + " " + c["summary"] for c in corpus])
    ids, mask = D.encode_articles(tok, [c["article"] for c in corpus])
    policy = M.build_policy(len(tok), M.ModelConfig(d_model=32, d_ff=64, num_layers=1))
    ref = copy.deepcopy(policy).eval()
    rm = M.RewardModel.from_policy(policy).eval()
    cfg = P.RLHFConfig(prompts_per_step=4, samples_per_prompt=3, max_new_tokens=6)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in policy.parameters()]
    stats = P.policy_step(policy, ref, rm, {"input_ids": ids[:4], "attention_mask": mask[:4]},
                          cfg, opt, R, torch.Generator().manual_seed(0))
    assert stats["labels"].shape[0] == 12 and abs(stats["kl"]) < 1e-4  # first step: pi = pi_ref
    assert abs(stats["reward"] - (stats["proxy_reward"] - cfg.kl_coef * stats["kl"])) < 1e-5
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters()))


# ---------------------------------------------------------------------------------------------
# reduced CPU run of the GPU-tier test
# ---------------------------------------------------------------------------------------------
STATEFUL_LOGPROBS = """
_calls = [0]
_sequence_log_probs = sequence_log_probs


def sequence_log_probs(logits, labels):
    _calls[0] += 1  # a hidden state that changes the answer from the second call on
    return _sequence_log_probs(logits, labels) * (1.0 + 0.01 * (_calls[0] - 1))
"""


def test_q4_gpu_reduced_cpu_grades_only_what_the_device_adds():
    """Reference passes; stubs score zero; a sign-flipped policy gradient (q4_pg_loss's mutant) is
    not charged again; a function whose answer is not reproducible between two calls on the same
    inputs (what a device dependence looks like on the CPU) fails."""
    reference = (SOL / "hw12" / "rlhf.py").read_text()
    assert _grade(_module_from_source(reference), None, ["q4_gpu"]) == {}
    stub = _module_from_source(inprocess.stub_source(reference, "rlhf"))
    assert "q4_gpu" in _grade(stub, None, ["q4_gpu"])
    _, flip = inprocess.variant_source(BANK / "rlhf" / "q4_pg_loss" / "pg_sign_flip.py")
    assert _grade(_module_from_source(flip), None, ["q4_gpu"]) == {}
    stateful = _module_from_source(reference + STATEFUL_LOGPROBS)
    assert "q4_gpu" in _grade(stateful, None, ["q4_gpu"])


def test_network_paths_are_off_by_default(hw12):
    assert hw12.data.USE_REAL_DATA is False and hw12.models.USE_PRETRAINED is False
    assert hw12.data.load_corpus(3, seed=1) == hw12.data.make_corpus(3, seed=1)
    with pytest.raises(RuntimeError, match="HW12_PRETRAINED"):
        hw12.models.load_pretrained_policy()

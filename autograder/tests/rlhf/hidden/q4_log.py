"""Q4 submission_log.json (hidden): schema, finite numbers, consistent figures, RL outcome."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_log"
points = None

LOG = "submission_log.json"


def _load(submission, rlhf):
    from hw12 import replay

    log = _read(submission)  # the log must come from the submitted code: hw12/replay.py
    replay.require_match(LOG, log.get("replay") if isinstance(log, dict) else None, rlhf,
                         "hw12/rlhf.py", submission)
    return log


def _read(submission):
    import json

    submission.require(LOG, f"{LOG} was not found in the submission; run hw12_rlhf.ipynb to the "
                       "end and upload the log it writes.")
    try:
        log = json.loads(submission.read_text(LOG))
    except json.JSONDecodeError as e:
        raise AssertionError(f"{LOG} is not valid JSON ({e.msg} at line {e.lineno}); it is "
                             "probably truncated. Re-run the notebook's last cell.") from None
    return log


def _valid(submission, rlhf):
    from autograder.grading.testlib import rlhf_oracles as O

    log = _load(submission, rlhf)
    problem = O.schema_problem(log)
    if problem is not None:
        raise AssertionError(f"{LOG} does not follow hw12/rlhf_log_schema.json {problem}.")
    return log


@test_case(points=1, hidden=True)
def test_schema(submission, rlhf):
    _valid(submission, rlhf)


@test_case(points=1, hidden=True)
def test_numbers_finite_and_consistent(submission, rlhf):
    from autograder.grading.testlib import rlhf_oracles as O

    log = _valid(submission, rlhf)
    bad = O.non_finite_paths(log)
    assert not bad, (f"{LOG} holds NaN or infinite values at {bad[:5]}: a training stage "
                     "diverged. Check your losses (log_softmax, logsigmoid) and re-run.")
    probs = O.consistency_problems(log)
    assert not probs, (f"figures in {LOG} contradict each other: " + "; ".join(probs[:3])
                       + ". Write the log with the notebook's code, not by hand.")


@test_case(points=1, hidden=True)
def test_rl_improved_true_quality(submission, rlhf):
    log = _valid(submission, rlhf)
    fe = log["final_evaluation"]
    acc = log["reward_model"]["test_accuracy"]
    assert acc > 0.55, (
        f"the reward model's held-out pairwise accuracy is {acc:.3f}, near chance (0.5): it did "
        "not learn the preferences. Check reward_model_loss (chosen minus rejected, logsigmoid).")
    gain = fe["true_quality_gain"]
    assert gain > 0, (
        f"after RL the hidden true quality changed by {gain:+.4f} (SFT "
        f"{fe['sft']['true_quality']:.4f} -> RL {fe['rl']['true_quality']:.4f}); policy "
        "optimisation with the KL penalty should raise it. Check the signs in "
        "policy_gradient_loss and kl_penalized_rewards.")

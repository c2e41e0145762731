"""Q4 submission_log.json (public): the log is there, parses, and belongs to your rlhf.py."""
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

    submission.require(
        LOG, f"{LOG} was not found next to hw12/. Run hw12_rlhf.ipynb to the end (it writes the "
        "log in the notebook's folder) and upload the file with your code.")
    text = submission.read_text(LOG)
    try:
        log = json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(
            f"{LOG} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}; the file "
            f"has {len(text)} characters). It is probably truncated or edited by hand: "
            "re-run the notebook's last cell to write it again.") from None
    if not isinstance(log, dict):
        raise AssertionError(f"{LOG} must hold a JSON object, found {type(log).__name__}.")
    return log


@test_case(points=1, hidden=False)
def test_log_present_and_complete(submission, rlhf):
    log = _load(submission, rlhf)
    required = ["schema_version", "quick", "config", "sft", "reward_model", "rl", "hacking",
                "final_evaluation", "samples", "code", "environment", "wall_time_s"]
    missing = [k for k in required if k not in log]
    assert not missing, (
        f"{LOG} lacks the top-level entries {missing}. Write it with the notebook's last cell "
        "(hw12/rlhf_log_schema.json describes every entry).")


@test_case(points=1, hidden=False)
def test_code_hash_matches_submitted_module(submission, rlhf):
    from hw12 import replay

    log = _load(submission, rlhf)
    code = log.get("code")
    replay.require_same_source(LOG, code.get("sha256") if isinstance(code, dict) else None,
                               "hw12/rlhf.py", submission)

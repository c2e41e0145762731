"""Q3b: the notebook's early_exit_answers.json (public checks: present and well formed)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_answers"
points = None

FILE = "early_exit_answers.json"


@test_case(points=1, hidden=False)
def test_answers_file_present_and_well_formed(submission, early_exit):
    import math

    from hw12 import replay
    submission.require(FILE, (
        f"{FILE} is missing: run hw12_early_exit.ipynb to the end (its last cell writes the file "
        "next to the notebook) and submit it together with the notebook and hw12/"))
    try:
        obj = submission.read_json(FILE)
    except ValueError as e:
        raise AssertionError(f"{FILE} is not valid JSON ({e}); re-run the notebook's last cell") from None
    assert isinstance(obj, dict) and obj.get("schema") == "hw12-early-exit-answers/1", (
        f"{FILE} must be the object written by the notebook (schema 'hw12-early-exit-answers/1')")
    want = {"q3b_i": ["baseline_accuracy"], "q3b_ii": ["threshold", "early_exit_accuracy"],
            "q3b_iii": ["early_exit_rate", "confidence_early", "confidence_full"],
            "q3b_iv": ["mac_ratio", "spike_threshold"], "q3b_v": ["small_accuracy"]}
    for sec, keys in want.items():
        assert isinstance(obj.get(sec), dict), f"{FILE}: section {sec!r} is missing"
        for k in keys:
            v = obj[sec].get(k)
            assert type(v) in (int, float) and math.isfinite(v), (
                f"{FILE}: {sec}.{k} must be a finite number, got {v!r}")
    for sec, k in [("q3b_i", "baseline_accuracy"), ("q3b_ii", "early_exit_accuracy"),
                   ("q3b_v", "small_accuracy"), ("q3b_iii", "early_exit_rate")]:
        assert 0 <= obj[sec][k] <= 1, (
            f"{FILE}: {sec}.{k} = {obj[sec][k]} must be a fraction in [0, 1], not a percent")
    assert isinstance(obj.get("q3b_vi"), dict) and "min_threshold" in obj["q3b_vi"], (
        f"{FILE}: q3b_vi.min_threshold is missing (use null when no threshold beats the small net)")
    replay.require_match(FILE, obj.get("replay"), early_exit, "hw12/early_exit.py", submission)


@test_case(points=1, hidden=False)
def test_answers_come_from_the_submitted_module(submission, early_exit):
    from hw12 import replay
    submission.require(FILE, f"{FILE} is missing (see the test above)")
    try:
        obj = submission.read_json(FILE)
    except ValueError:
        raise AssertionError(f"{FILE} is not valid JSON (see the test above)") from None
    sha = obj.get("module_sha256") if isinstance(obj, dict) else None
    replay.require_same_source(FILE, sha, "hw12/early_exit.py", submission)
    replay.require_match(FILE, obj.get("replay"), early_exit, "hw12/early_exit.py", submission)

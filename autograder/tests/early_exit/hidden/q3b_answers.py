"""Q3b: the notebook's early_exit_answers.json (hidden checks: full schema and consistency)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_answers"
points = None


def _load(submission, early_exit):
    from autograder.grading.testlib.early_exit_oracles import ANSWERS_FILE
    from hw12 import replay
    submission.require(ANSWERS_FILE, (
        f"{ANSWERS_FILE} is missing: run hw12_early_exit.ipynb to the end and submit the file it "
        "writes next to the notebook"))
    try:
        obj = submission.read_json(ANSWERS_FILE)
    except ValueError as e:
        raise AssertionError(f"{ANSWERS_FILE} is not valid JSON ({e})") from None
    # the answers must come from the submitted code (hw12/replay.py)
    replay.require_match(ANSWERS_FILE, obj.get("replay") if isinstance(obj, dict) else None,
                         early_exit, "hw12/early_exit.py", submission)
    return obj


@test_case(points=1, hidden=True)
def test_schema(submission, early_exit):
    from autograder.grading.testlib.early_exit_oracles import validate_answers
    problems = validate_answers(_load(submission, early_exit))
    assert not problems, "early_exit_answers.json: " + "; ".join(problems[:6])


@test_case(points=2, hidden=True)
def test_answers_are_consistent(submission, early_exit):
    from autograder.grading.testlib.early_exit_oracles import consistency_problems, validate_answers
    obj = _load(submission, early_exit)
    assert not validate_answers(obj), "early_exit_answers.json does not follow the schema (see above)"
    problems = consistency_problems(obj)
    assert not problems, "early_exit_answers.json: " + "; ".join(problems[:6])

"""Q3b-vi: min_threshold_beating (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_threshold"
points = None


@test_case(points=1, hidden=False)
def test_smallest_threshold_strictly_beating(early_exit):
    th = [0.2, 0.3, 0.4, 0.5, 0.6]
    acc = [0.40, 0.45, 0.52, 0.55, 0.56]
    got = early_exit.min_threshold_beating(th, acc, 0.50)
    assert got is not None and abs(float(got) - 0.4) < 1e-12, (
        f"min_threshold_beating({th}, {acc}, 0.50) returned {got}, expected 0.4, the smallest "
        "threshold whose accuracy is above the target (did you return the largest?)")
    got = early_exit.min_threshold_beating(th, acc, 0.52)
    assert got is not None and abs(float(got) - 0.5) < 1e-12, (
        f"with target 0.52 the answer is 0.5, got {got}: an accuracy equal to the target does "
        "not beat it (use >, not >=)")


@test_case(points=1, hidden=False)
def test_unsorted_and_none(early_exit):
    th = [0.6, 0.2, 0.5, 0.3]
    acc = [0.56, 0.40, 0.55, 0.51]
    got = early_exit.min_threshold_beating(th, acc, 0.50)
    assert got is not None and abs(float(got) - 0.3) < 1e-12, (
        f"thresholds may come in any order: expected 0.3, got {got}")
    got = early_exit.min_threshold_beating(th, acc, 0.9)
    assert got is None, f"when no threshold beats the target the answer is None, got {got!r}"

"""Q3b-vi: min_threshold_beating (hidden checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_threshold"
points = None


@test_case(points=2, hidden=True)
def test_matches_definition_on_random_sweeps(early_exit):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.early_exit_oracles import min_threshold_beating_oracle

    @settings(derandomize=True, deadline=None, database=None, max_examples=60)
    @given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10)), min_size=1, max_size=12,
                    unique_by=lambda p: p[0]),
           st.integers(0, 10))
    def check(rows, target):
        th = [r[0] / 20 for r in rows]           # thresholds on a grid, in random order
        acc = [r[1] / 10 for r in rows]          # accuracies on a grid, so ties with the target occur
        tgt = target / 10
        want = min_threshold_beating_oracle(th, acc, tgt)
        got = early_exit.min_threshold_beating(th, acc, tgt)
        if want is None:
            assert got is None, (
                f"min_threshold_beating({th}, {acc}, {tgt}) = {got!r}, expected None: no accuracy "
                "is strictly above the target (equal does not beat it)")
            return
        assert got is not None and abs(float(got) - want) < 1e-12, (
            f"min_threshold_beating({th}, {acc}, {tgt}) = {got!r}, expected {want}: the smallest "
            "threshold (thresholds are unsorted) whose accuracy is strictly greater than the target")

    check()


@test_case(points=1, hidden=True)
def test_edge_cases(early_exit):
    got = early_exit.min_threshold_beating([], [], 0.5)
    assert got is None, f"an empty sweep has no threshold beating the target; got {got!r}"
    got = early_exit.min_threshold_beating([0.9, 0.1, 0.5], [0.7, 0.7, 0.7], 0.7)
    assert got is None, f"accuracies equal to the target do not beat it (use >); got {got!r}"
    got = early_exit.min_threshold_beating((0.9, 0.1, 0.5), (0.71, 0.72, 0.69), 0.7)
    assert got is not None and abs(float(got) - 0.1) < 1e-12, (
        f"expected 0.1 (smallest beating threshold, not the largest or the first listed); got {got!r}")

"""The supervisor's scheduling of a part's cases (autograder/grading/supervisor.py); its time
limits and recovery are attacked through whole gradings in test_hostile_submissions.py."""
from __future__ import annotations

from pathlib import Path

from autograder.grading.config import Case
from autograder.grading.supervisor import in_tier, public_first


def _case(i: int, visibility: str, tier: str = "cpu") -> Case:
    return Case(id=f"c{i}", part="p", question=f"q{i % 3}", file=Path("f.py"), function="test_x",
                points=1.0, visibility=visibility, tier=tier, time_limit_s=1.0, seed=i)


def test_public_cases_run_before_any_hidden_one():
    cases = [_case(i, v) for i, v in enumerate(["hidden", "public", "hidden", "public", "hidden"])]
    order = [c.id for c in public_first(cases)]
    assert order == ["c1", "c3", "c0", "c2", "c4"]  # each group keeps its own order


def test_a_tier_runs_its_own_cases_in_their_order():
    cases = [_case(0, "public"), _case(1, "hidden", "gpu"), _case(2, "hidden")]
    assert [c.id for c in in_tier(cases, "cpu")] == ["c0", "c2"]
    assert [c.id for c in in_tier(cases, "gpu")] == ["c1"]
    assert [c.id for c in in_tier(cases, "all")] == ["c0", "c1", "c2"]

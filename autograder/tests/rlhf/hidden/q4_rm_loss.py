"""Q4 reward_model_loss (hidden): values over a range of margins, gradient, stability."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_rm_loss"
points = None


@test_case(points=1, hidden=True)
def test_matches_oracle_on_random_inputs(rlhf):
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib import rlhf_oracles as O

    @settings(derandomize=True, deadline=None, database=None, max_examples=40)
    @given(B=st.integers(1, 16), seed=st.integers(0, 2 ** 16),
           scale=st.sampled_from([0.01, 1.0, 10.0, 60.0]))
    def check(B, seed, scale):
        g = torch.Generator().manual_seed(seed)
        rc = scale * torch.randn(B, generator=g, dtype=torch.float64)
        rr = scale * torch.randn(B, generator=g, dtype=torch.float64)
        got = float(torch.as_tensor(rlhf.reward_model_loss(rc, rr)))
        want = O.reward_model_loss_oracle(rc.tolist(), rr.tolist())
        hint = ""
        if abs(got - O.reward_model_loss_oracle(rr.tolist(), rc.tolist())) < 1e-6 * (1 + want):
            hint = " chosen and rejected are swapped."
        elif abs(got - float(-torch.sigmoid(rc - rr).mean())) < 1e-6:
            hint = " that is -sigmoid, without the log: use F.logsigmoid."
        elif got != got or abs(got) == float("inf"):
            hint = " the value is not finite: log(sigmoid(x)) underflows; use F.logsigmoid."
        assert abs(got - want) <= 1e-6 * (1 + abs(want)), (
            f"wrong loss for B={B}, score scale {scale}: got {got:.6g}, expected "
            f"-mean(log sigmoid(chosen - rejected)).{hint}")

    check()


@test_case(points=1, hidden=True)
def test_gradient(rlhf):
    import torch

    from autograder.grading.testlib import grad_of

    rc = torch.tensor([0.5, -1.0, 3.0], dtype=torch.float64)
    rr = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    _, grads = grad_of(rlhf.reward_model_loss, ["rewards_chosen", "rewards_rejected"],
                       rewards_chosen=rc, rewards_rejected=rr)
    assert grads["rewards_chosen"] is not None and grads["rewards_rejected"] is not None, (
        "the loss must be differentiable in both rewards (the reward model learns from both).")
    want = -(1 - torch.sigmoid(rc - rr)) / 3
    gc = torch.as_tensor(grads["rewards_chosen"])
    gr = torch.as_tensor(grads["rewards_rejected"])
    assert torch.allclose(gc, want, atol=1e-9) and torch.allclose(gr, -want, atol=1e-9), (
        f"d loss / d r_chosen = {gc.tolist()}, expected -(1 - sigmoid(d)) / B = {want.tolist()} "
        "and the opposite for r_rejected.")

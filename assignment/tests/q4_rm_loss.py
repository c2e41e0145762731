"""Q4 reward_model_loss: -mean(log sigmoid(r_chosen - r_rejected)) (public)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_rm_loss"
points = None


@test_case(points=1, hidden=False)
def test_log2_at_equal_rewards_and_values(rlhf):
    import math

    import torch

    x = torch.tensor([0.3, -1.2, 4.0])
    got = float(torch.as_tensor(rlhf.reward_model_loss(x, x.clone())))
    assert abs(got - math.log(2)) < 1e-5, (
        f"with equal chosen and rejected rewards the loss is -log sigmoid(0) = log 2 = 0.69315; "
        f"got {got:.5f}." + (" sigmoid(0) = 0.5 is the loss of sigmoid without the log."
                             if abs(got + 0.5) < 1e-5 or abs(got - 0.5) < 1e-5 else ""))
    rc, rr = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 1.5])
    got = float(torch.as_tensor(rlhf.reward_model_loss(rc, rr)))
    d = rc - rr
    want = float(torch.log1p(torch.exp(-d)).mean())
    swapped = float(torch.log1p(torch.exp(d)).mean())
    assert abs(got - want) < 1e-5, (
        f"reward_model_loss(chosen={rc.tolist()}, rejected={rr.tolist()}) = {got:.5f}, expected "
        f"-mean(log sigmoid(chosen - rejected)) = {want:.5f}. "
        + ("That is the value with chosen and rejected swapped." if abs(got - swapped) < 1e-5
           else "Use F.logsigmoid of (chosen - rejected), negated and averaged over pairs."))


@test_case(points=1, hidden=False)
def test_decreases_with_margin_and_stays_finite(rlhf):
    import torch

    margins = [-30.0, -3.0, -1.0, 0.0, 1.0, 3.0, 30.0]
    vals = [float(torch.as_tensor(rlhf.reward_model_loss(torch.tensor([m]), torch.tensor([0.0]))))
            for m in margins]
    for m0, m1, v0, v1 in zip(margins, margins[1:], vals, vals[1:]):
        assert v1 < v0, (
            f"the loss must decrease as chosen - rejected grows: margin {m0} gave {v0:.4g}, "
            f"margin {m1} gave {v1:.4g}. A loss that grows with the margin has chosen and "
            "rejected swapped or a flipped sign.")
    big = float(torch.as_tensor(rlhf.reward_model_loss(torch.tensor([0.0]), torch.tensor([200.0]))))
    assert abs(big - 200.0) < 1e-3, (
        f"for chosen - rejected = -200 the loss is 200 (log sigmoid(-200) = -200); got {big}. "
        "log(sigmoid(x)) underflows to -inf; use F.logsigmoid.")

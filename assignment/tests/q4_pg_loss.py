"""Q4 policy_gradient_loss: the REINFORCE surrogate -mean((r - b) log P(y|x)) (public)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_pg_loss"
points = None


@test_case(points=1, hidden=False)
def test_value_without_baseline(rlhf):
    import torch

    logp = torch.tensor([-1.0, -2.5, -0.5, -4.0])
    r = torch.tensor([1.0, 0.5, -2.0, 3.0])
    got = torch.as_tensor(rlhf.policy_gradient_loss(logp, r))
    assert got.dim() == 0, f"policy_gradient_loss must return a scalar, got shape {tuple(got.shape)}."
    want = -(r * logp).mean()
    assert abs(float(got) - float(want)) < 1e-5, (
        f"policy_gradient_loss(logp={logp.tolist()}, r={r.tolist()}) = {float(got):.5f}, expected "
        f"-mean(r * logp) = {float(want):.5f}. "
        + ("The sign is flipped: the loss is minus the reward-weighted log-probability."
           if abs(float(got) + float(want)) < 1e-5 else
           "Use the mean over the batch (not the sum) of r * logp, with a minus sign."))


@test_case(points=1, hidden=False)
def test_baseline_is_subtracted(rlhf):
    import torch

    logp = torch.tensor([-1.0, -2.5, -0.5, -4.0])
    r = torch.tensor([1.0, 0.5, -2.0, 3.0])
    for b in (torch.tensor([0.5, 0.5, 1.0, -1.0]), 0.75, torch.tensor(0.75)):
        got = float(torch.as_tensor(rlhf.policy_gradient_loss(logp, r, b)))
        want = float(-((r - torch.as_tensor(b)) * logp).mean())
        none = float(-(r * logp).mean())
        assert abs(got - want) < 1e-5, (
            f"with baseline {b if isinstance(b, float) else b.tolist()} the loss should be "
            f"-mean((r - b) * logp) = {want:.5f}, got {got:.5f}. "
            + ("That is the value without a baseline: the baseline is being ignored."
               if abs(got - none) < 1e-5 else
               "Subtract the baseline from the rewards (it may be a float or a tensor)."))


@test_case(points=1, hidden=False)
def test_unit_reward_is_cross_entropy(rlhf):
    import torch
    import torch.nn.functional as F

    # Q4(b): with r = 1 and no baseline the loss is the supervised cross-entropy, summed over the
    # tokens of each sequence and averaged over the batch.
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 6, 9, generator=g)
    labels = torch.randint(0, 9, (4, 6), generator=g)
    labels[0, 4:] = -100
    labels[2, 1:] = -100
    logp = -F.cross_entropy(logits.transpose(1, 2), labels, reduction="none",
                            ignore_index=-100).sum(1)                       # (B,)
    got = float(torch.as_tensor(rlhf.policy_gradient_loss(logp, torch.ones(4))))
    ce = float(F.cross_entropy(logits.reshape(-1, 9), labels.reshape(-1), reduction="sum",
                               ignore_index=-100)) / 4
    assert abs(got - ce) < 1e-4, (
        f"with rewards = 1 and no baseline the loss must equal the supervised cross-entropy "
        f"(sum over tokens, mean over sequences) = {ce:.5f}; got {got:.5f}.")

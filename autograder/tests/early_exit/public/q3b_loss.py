"""Q3b: early_exit_loss (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_loss"
points = None


def _data():
    import torch
    g = torch.Generator().manual_seed(3)
    logits = [torch.randn(6, 5, generator=g) * s for s in (0.5, 1.0, 2.0)]
    targets = torch.randint(0, 5, (6,), generator=g)
    return logits, targets


@test_case(points=1, hidden=False)
def test_default_weights_sum_the_exits(early_exit):
    import torch.nn.functional as F
    logits, targets = _data()
    want = sum(float(F.cross_entropy(z, targets)) for z in logits)
    got = float(early_exit.early_exit_loss(logits, targets))
    last = float(F.cross_entropy(logits[-1], targets))
    assert abs(got - last) > 1e-3 or abs(want - last) < 1e-3, (
        "early_exit_loss returned the final head's cross-entropy only: every exit must be trained")
    assert abs(got - want) < 1e-4, (
        f"early_exit_loss(logits, targets) = {got:.6f}, expected the sum of the three exits' "
        f"mean cross-entropies {want:.6f}")


@test_case(points=1, hidden=False)
def test_weights_scale_each_exit(early_exit):
    import torch.nn.functional as F
    logits, targets = _data()
    w = [0.25, 0.0, 2.0]
    want = sum(wk * float(F.cross_entropy(z, targets)) for wk, z in zip(w, logits))
    got = float(early_exit.early_exit_loss(logits, targets, w))
    assert abs(got - want) < 1e-4, (
        f"early_exit_loss(logits, targets, weights={w}) = {got:.6f}, expected {want:.6f} = "
        "sum_k weights[k] * CE_k (are the weights ignored or applied to the wrong exits?)")

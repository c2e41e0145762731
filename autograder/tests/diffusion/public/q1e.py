"""Q1e: Bernoulli KL divergence and the binary diffusion training loss (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1e"
points = None


@test_case(points=0.5, hidden=False)
def test_bernoulli_kl_values(binary_diffusion):
    """Hand-computed values, including p = 0 and p = 1 where 0 * log 0 = 0."""
    import torch

    p = torch.tensor([0.2, 0.0, 1.0, 0.5, 0.9], dtype=torch.float64)
    q = torch.tensor([0.5, 0.3, 0.3, 0.5, 0.2], dtype=torch.float64)
    want = torch.tensor([0.192745, 0.356675, 1.203973, 0.0, 1.145726], dtype=torch.float64)
    reversed_kl = torch.tensor([0.223144, float("nan"), float("nan"), 0.0, 1.362738], dtype=torch.float64)
    got = binary_diffusion.bernoulli_kl(p, q)
    assert isinstance(got, torch.Tensor) and got.shape == p.shape, (
        f"bernoulli_kl on (5,) inputs returned {getattr(got, 'shape', type(got).__name__)}; it is elementwise.")
    assert got.dtype == torch.float64, f"bernoulli_kl returned {got.dtype} for float64 inputs; keep the dtype."
    if abs(float(got[0]) - float(reversed_kl[0])) < 1e-5:
        raise AssertionError("bernoulli_kl(p, q) computed KL(Bern(q) || Bern(p)); the first argument "
                             "p is the distribution the expectation is taken under.")
    assert bool(torch.isfinite(got).all()), (
        f"bernoulli_kl(p, q) returned {got.tolist()} for p = {p.tolist()}: non-finite values where p "
        "is 0 or 1. Use 0 * log 0 = 0 (torch.xlogy(x, y) returns 0 where x == 0).")
    assert torch.allclose(got, want, atol=1e-5), (
        f"bernoulli_kl(p={p.tolist()}, q={q.tolist()}) returned {[round(v, 6) for v in got.tolist()]}, "
        f"expected {want.tolist()}.")


def _target_at_t1(y_t, x0, t, delta):
    """posterior_prob_plus at t = 1, where Y_{t-1} = Y_0 = x0 is known: 1 where x0 = +1, 0 where
    x0 = -1. The loss is checked with it in place of yours, so that Q1(e) is checked on its own."""
    if int(t) != 1:
        raise KeyError(f"this check knows the target at t = 1 only, not at t = {t}")
    return (1 + x0) / 2


@test_case(points=0.5, hidden=False)
def test_diffusion_loss_at_t1_is_bce(binary_diffusion, substituted):
    """At t = 1 the target is Y_0 = x0 itself, so the loss is binary cross-entropy (pixel sum, batch mean)."""
    import torch

    x0 = torch.tensor([[[1.0, -1.0], [1.0, 1.0]], [[-1.0, -1.0], [1.0, -1.0]]])  # (2, 2, 2)
    y1 = torch.tensor([[[1.0, 1.0], [1.0, -1.0]], [[-1.0, 1.0], [1.0, -1.0]]])
    logits = torch.tensor([[[2.0, -1.0], [0.5, 0.0]], [[-3.0, 1.0], [0.25, -0.5]]])
    with substituted(binary_diffusion, "posterior_prob_plus", _target_at_t1):
        got = binary_diffusion.diffusion_loss(logits, y1, x0, 1, 0.1)
    assert isinstance(got, torch.Tensor) and got.dim() == 0, (
        f"diffusion_loss returned {getattr(got, 'shape', type(got).__name__)}; expected a 0-dim tensor "
        "(sum over pixels, then mean over the batch).")
    assert got.dtype == torch.float32, f"diffusion_loss returned {got.dtype} for float32 logits; keep the dtype."
    want = 2.009640  # per example: 1.607414 and 2.411865 nats
    hint = ""
    if abs(float(got) - want / 4) < 1e-4:
        hint = " It equals the mean over pixels; the loss SUMS over pixels (and averages over the batch)."
    elif abs(float(got) - 2 * want) < 1e-4:
        hint = " It equals the sum over the batch; average over the batch (dim 0) instead."
    elif 4.39 < float(got) < 47.2 or float(got) == float("inf"):
        # KL(sigmoid(logits) || target), the target clamped to [eps, 1 - eps]: 4.398 for eps = 1e-2,
        # 17.54 for 1e-6, 47.17 for 1e-15, infinite unclamped
        hint = (" A value this large is what KL(sigmoid(logits) || target) gives, with the target "
                "clamped away from 0 and 1: the arguments are reversed. The loss is KL(target || "
                "model), which at t = 1 is the binary cross-entropy.")
    assert abs(float(got) - want) < 1e-4, (
        f"diffusion_loss at t = 1 returned {float(got):.6f}, expected {want:.6f} (binary cross-entropy "
        "of sigmoid(logits) against (1 + x0) / 2, summed over pixels, averaged over the batch)." + hint)

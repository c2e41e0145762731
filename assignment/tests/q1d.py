"""Q1d: posterior P(Y_{t-1} = +1 | Y_t, Y_0) of the binary chain (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1d"
points = None

# (t, y_t, x0) -> P(Y_{t-1} = +1 | Y_t = y_t, Y_0 = x0) for delta = 0.1, computed by hand.
_TABLE = {
    (1, 1, 1): 1.0, (1, -1, 1): 1.0, (1, 1, -1): 0.0, (1, -1, -1): 0.0,
    (2, 1, 1): 0.987805, (2, -1, 1): 0.5, (2, 1, -1): 0.5, (2, -1, -1): 0.012195,
    (3, 1, 1): 0.976190, (3, -1, 1): 0.336066, (3, 1, -1): 0.663934, (3, -1, -1): 0.023810,
}


# survival_prob(t, 0.1) for t = 0..3 (Q1(a)'s values): the checks run with this table in place of
# your survival_prob, so that Q1(d) is checked on its own
_SURVIVAL = {(0, 0.1): 1.0, (1, 0.1): 0.8, (2, 0.1): 0.64, (3, 0.1): 0.512}


def _posterior(binary_diffusion, substituted, *args):
    """Your posterior_prob_plus, calling the table above instead of your survival_prob."""
    with substituted(binary_diffusion, "survival_prob", _SURVIVAL):
        return binary_diffusion.posterior_prob_plus(*args)


def _swapped_likelihoods(y, x0, t, delta):
    """The posterior with P(Y_t = y | Y_{t-1} = +1) taken as delta for y = +1 (a frequent slip)."""
    prior = (1 + x0 * (1 - 2 * delta) ** (t - 1)) / 2
    like_plus, like_minus = (delta, 1 - delta) if y == 1 else (1 - delta, delta)
    return prior * like_plus / (prior * like_plus + (1 - prior) * like_minus)


@test_case(points=0.5, hidden=False)
def test_posterior_values(binary_diffusion, substituted):
    """All four sign combinations of (y_t, x0) at t = 1, 2, 3 with delta = 0.1."""
    import torch

    for t in (1, 2, 3):
        y = torch.tensor([[1.0, -1.0, 1.0, -1.0]], dtype=torch.float64)
        x = torch.tensor([[1.0, 1.0, -1.0, -1.0]], dtype=torch.float64)
        got = _posterior(binary_diffusion, substituted, y, x, t, 0.1)
        got = torch.as_tensor(got, dtype=torch.float64).reshape(-1)
        for j in range(4):
            yj, xj = int(y[0, j]), int(x[0, j])
            want = _TABLE[(t, yj, xj)]
            hint = ""
            if t == 1:
                hint = (" At t = 1, Y_{t-1} = Y_0 = x0 is known, so the answer is 1 if x0 = +1 and 0 "
                        "if x0 = -1. Did you use (1 - 2*delta)^t instead of (1 - 2*delta)^(t - 1) in "
                        "the prior P(Y_{t-1} = +1 | Y_0)?")
            elif abs(float(got[j]) - _swapped_likelihoods(yj, xj, t, 0.1)) < 1e-5:
                hint = (" It matches the likelihoods swapped: P(Y_t = y | Y_{t-1} = +1) is 1 - delta "
                        "when y = +1 (the pixel was not flipped) and delta when y = -1.")
            elif xj == -1:
                hint = (" The case x0 = -1 is wrong: the prior P(Y_{t-1} = +1 | Y_0 = -1) is "
                        "(1 - (1 - 2*delta)^(t-1)) / 2, not (1 + (1 - 2*delta)^(t-1)) / 2.")
            assert abs(float(got[j]) - want) < 1e-5, (
                f"posterior_prob_plus(y_t={yj:+d}, x0={xj:+d}, t={t}, delta=0.1) returned "
                f"{float(got[j]):.6f}, expected {want:.6f}." + hint)


@test_case(points=0.5, hidden=False)
def test_posterior_shape_dtype_per_example_t(binary_diffusion, substituted):
    """Elementwise output with y_t's shape and dtype; a (B,) tensor t applies per example."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            y = torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=dtype, device=device)
            x = torch.tensor([[1.0, 1.0], [-1.0, -1.0]], dtype=dtype, device=device)
            got = _posterior(binary_diffusion, substituted, y, x, torch.tensor([3, 2], device=device), 0.1)
            assert isinstance(got, torch.Tensor) and got.shape == y.shape, (
                f"posterior_prob_plus on inputs of shape {tuple(y.shape)} returned "
                f"{getattr(got, 'shape', type(got).__name__)}; it is elementwise, same shape as y_t.")
            assert got.dtype == dtype and got.device.type == device, (
                f"posterior_prob_plus returned {got.dtype} on {got.device} for {dtype} inputs on "
                f"{device}; keep the input's dtype and device.")
            for row, tb in ((0, 3), (1, 2)):
                single = _posterior(binary_diffusion, substituted, y[row:row + 1], x[row:row + 1], tb, 0.1)
                assert torch.allclose(got[row].double().cpu(), single[0].double().cpu(), atol=1e-6), (
                    f"with t = tensor([3, 2]) example {row} differs from a separate call with t = {tb}: "
                    "example b must use its own t[b] along dim 0 (shape (B, 1, ..., 1)).")
            want = torch.tensor([[_TABLE[(3, 1, 1)], _TABLE[(3, -1, 1)]],
                                 [_TABLE[(2, 1, -1)], _TABLE[(2, -1, -1)]]], dtype=torch.float64)
            assert torch.allclose(got.double().cpu(), want, atol=1e-5), (
                f"posterior_prob_plus with t = tensor([3, 2]) returned {got.double().cpu().tolist()}, "
                f"expected {want.tolist()} (see test_posterior_values for the formula checks).")

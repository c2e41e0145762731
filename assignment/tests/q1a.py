"""Q1a: survival probability of a pixel (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1a"
points = None


def _as_float(value):
    import torch

    return float(torch.as_tensor(value, dtype=torch.float64))


def _likely_mistake(got, t, delta):
    """Name the formula that a wrong value matches, if any."""
    wrong = {
        "(1 - delta)^t: the per-step flip probability is delta, but the per-step replacement "
        "probability is 2*delta": (1 - delta) ** t,
        "(1 - 2*delta)^(t - 1): t counted from 1, survival should be 1 at t = 0": (1 - 2 * delta) ** (t - 1),
        "1 - (1 - 2*delta)^t: that is the probability that the pixel WAS replaced": 1 - (1 - 2 * delta) ** t,
        "(1 - 2*delta) * t: the t steps are independent, so their probabilities multiply": (1 - 2 * delta) * t,
    }
    for text, value in wrong.items():
        if abs(got - value) < 1e-6:
            return " Your value equals " + text + "."
    return ""


@test_case(points=0.5, hidden=False)
def test_survival_prob_int_t(binary_diffusion):
    """Integer t: a few hand-computed values."""
    cases = [(0, 0.1, 1.0), (1, 0.1, 0.8), (3, 0.1, 0.512), (2, 0.25, 0.25), (10, 0.05, 0.3486784401)]
    for t, delta, want in cases:
        got = _as_float(binary_diffusion.survival_prob(t, delta))
        assert abs(got - want) < 1e-6, (
            f"survival_prob({t}, {delta}) returned {got:.6f}, expected {want:.6f}."
            + _likely_mistake(got, t, delta))


@test_case(points=0.5, hidden=False)
def test_survival_prob_tensor_t(binary_diffusion):
    """LongTensor t: one value per entry, floating, same shape as t."""
    import torch

    t = torch.tensor([0, 1, 2, 5])
    got = binary_diffusion.survival_prob(t, 0.1)
    assert isinstance(got, torch.Tensor), (
        f"survival_prob(t, 0.1) with a LongTensor t returned {type(got).__name__}, expected a tensor "
        "(write the formula with tensor operations, e.g. (1 - 2 * delta) ** t, not math.pow).")
    assert tuple(got.shape) == (4,), (
        f"survival_prob(t, 0.1) with t of shape (4,) returned shape {tuple(got.shape)}, expected (4,).")
    assert got.is_floating_point(), (
        f"survival_prob returned dtype {got.dtype}; probabilities must be floating point "
        "(an integer power of a float should stay a float).")
    want = torch.tensor([1.0, 0.8, 0.64, 0.32768], dtype=torch.float64)
    got64 = got.to(torch.float64)
    assert torch.allclose(got64, want, atol=1e-6), (
        f"survival_prob(tensor([0, 1, 2, 5]), 0.1) returned {got64.tolist()}, expected "
        f"{want.tolist()}.")

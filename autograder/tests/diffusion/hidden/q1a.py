"""Q1a: survival probability of a pixel (hidden checks against the flip-chain matrix powers)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1a"
points = None


@test_case(points=0.5, hidden=True)
def test_survival_prob_matches_chain(binary_diffusion):
    """Property: survival_prob(t, delta) equals M^t[0,0] - M^t[0,1] for the 2x2 flip matrix M."""
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.diffusion_oracles import survival_prob_oracle

    @settings(derandomize=True, deadline=None, database=None, max_examples=60, report_multiple_bugs=False)
    @given(t=st.integers(0, 300), delta=st.floats(1e-3, 0.45))
    def check(t, delta):
        got = float(torch.as_tensor(binary_diffusion.survival_prob(t, delta), dtype=torch.float64))
        want = survival_prob_oracle(t, delta)
        hint = ""
        if abs(got - (1 - delta) ** t) <= 1e-9 + 1e-6 * abs(got):
            hint = " It equals (1 - delta)^t: a pixel is REPLACED with probability 2*delta per step."
        elif t >= 1 and abs(got - (1 - 2 * delta) ** (t - 1)) <= 1e-9 + 1e-6 * abs(got):
            hint = " It equals (1 - 2*delta)^(t-1): t counted from 1, survival should be 1 at t = 0."
        elif abs(got - (1 - (1 - 2 * delta) ** t)) < 1e-9:
            hint = " It equals 1 - (1 - 2*delta)^t, the probability that the pixel has been replaced."
        assert abs(got - want) <= 1e-9 + 1e-4 * abs(want), (  # float32 arithmetic is accepted
            f"survival_prob(t={t}, delta={delta!r}) returned {got!r}, which is not the probability that "
            "none of the t replacement coins came up." + hint)

    check()


@test_case(points=0.5, hidden=True)
def test_survival_prob_tensor_t_elementwise(binary_diffusion):
    """A LongTensor t of any shape gives the elementwise values, and s(a + b) = s(a) s(b)."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import survival_prob_oracle

    t = torch.tensor([[0, 1, 7], [30, 2, 100]])
    delta = 0.07
    got = binary_diffusion.survival_prob(t, delta)
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 3), (
        f"survival_prob(t of shape (2, 3), {delta}) returned {getattr(got, 'shape', type(got).__name__)}; "
        "with a tensor t the result is a tensor of t's shape.")
    assert got.is_floating_point(), f"survival_prob returned dtype {got.dtype}, expected a floating dtype."
    want = torch.tensor([[survival_prob_oracle(int(v), delta) for v in row] for row in t.tolist()],
                        dtype=torch.float64)
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-8), (
        f"survival_prob(t={t.tolist()}, delta={delta}) returned {got.double().tolist()}; entry [i, j] must "
        "be the survival probability after t[i, j] steps.")
    for a, b in ((3, 4), (0, 9), (10, 25)):
        sa, sb, sab = (float(torch.as_tensor(binary_diffusion.survival_prob(v, delta), dtype=torch.float64))
                       for v in (a, b, a + b))
        assert abs(sab - sa * sb) <= 1e-6 * abs(sab) + 1e-12, (
            f"survival_prob({a + b}) = {sab:.6g} but survival_prob({a}) * survival_prob({b}) = {sa * sb:.6g}; "
            "surviving a + b independent steps is surviving a steps and then b steps.")

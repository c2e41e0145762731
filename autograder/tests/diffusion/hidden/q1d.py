"""Q1d: posterior P(Y_{t-1} = +1 | Y_t, Y_0) of the binary chain (hidden checks).

The reference is brute-force Bayes over the two states of Y_{t-1} with 2x2 transition matrices
(autograder.grading.testlib.diffusion_oracles.posterior_prob_plus_oracle), independent of the closed form.
"""
from otter.test_files import test_case

from autograder.grading.testlib import with_correct
from autograder.grading.testlib.diffusion_oracles import survival_prob_stand_in

OK_FORMAT = False
name = "q1d"
points = None

_SIGNS_Y = [1.0, -1.0, 1.0, -1.0]
_SIGNS_X = [1.0, 1.0, -1.0, -1.0]


def _mistake(got, t, delta):
    """Compare a (1, 4) result over the four sign pairs with closed forms of frequent mistakes."""
    import numpy as np

    from autograder.grading.testlib.diffusion_oracles import name_the_mistake, to_numpy

    y = np.array(_SIGNS_Y)
    x = np.array(_SIGNS_X)

    def bayes(prior_plus, lik_plus):
        num = prior_plus * lik_plus
        return num / (num + (1 - prior_plus) * (1 - lik_plus))

    s_prev, s_now = (1 - 2 * delta) ** (t - 1), (1 - 2 * delta) ** t
    lik = (1 + y * (1 - 2 * delta)) / 2
    candidates = {
        "the prior uses (1 - 2*delta)^t instead of (1 - 2*delta)^(t-1) (Y_{t-1} has had t - 1 steps)":
            bayes((1 + x * s_now) / 2, lik),
        "the prior is the x0 = +1 formula for every pixel; for x0 = -1 it is (1 - (1 - 2*delta)^(t-1)) / 2":
            bayes((1 + s_prev) / 2 + 0 * x, lik),
        "the likelihood is swapped: P(Y_t = y | Y_{t-1} = +1) is 1 - delta when y = +1 and delta when y = -1":
            bayes((1 + x * s_prev) / 2, 1 - lik),
        "the result is the prior P(Y_{t-1} = +1 | Y_0) alone, without conditioning on Y_t":
            (1 + x * s_prev) / 2,
        "the result uses the prior with the replacement probability delta instead of 2*delta":
            bayes((1 + x * (1 - delta) ** (t - 1)) / 2, lik),
    }
    found = name_the_mistake(to_numpy(got).reshape(-1), candidates, rtol=1e-6, atol=1e-9)
    return f" Likely mistake: {found}." if found else ""


@test_case(points=1.0, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_posterior_matches_bayes_oracle(binary_diffusion):
    """Property over delta, t and all sign pairs (float64): equals brute-force Bayes."""
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.diffusion_oracles import posterior_prob_plus_oracle

    y = torch.tensor([_SIGNS_Y], dtype=torch.float64)
    x = torch.tensor([_SIGNS_X], dtype=torch.float64)

    @settings(derandomize=True, deadline=None, database=None, max_examples=60, report_multiple_bugs=False)
    @given(t=st.integers(1, 400), delta=st.floats(1e-3, 0.45))
    def check(t, delta):
        got = torch.as_tensor(binary_diffusion.posterior_prob_plus(y, x, t, delta)).double()
        want = torch.as_tensor(posterior_prob_plus_oracle(y, x, t, delta))
        assert got.shape == want.shape, f"posterior_prob_plus returned shape {tuple(got.shape)}, expected {tuple(want.shape)}."
        bad = [(int(a), int(b), round(float(v), 6)) for a, b, v, w in
               zip(_SIGNS_Y, _SIGNS_X, got.reshape(-1), want.reshape(-1)) if not abs(float(v) - float(w)) <= 1e-5]
        assert not bad, (
            f"posterior_prob_plus(t={t}, delta={delta!r}) is wrong for (y_t, x0, your value) = {bad}."
            + _mistake(got, t, delta))

    check()


@test_case(points=0.75, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_per_example_t_equals_separate_calls(binary_diffusion):
    """A (B,) tensor t gives the same rows as separate int-t calls; square inputs catch dim mix-ups."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import posterior_prob_plus_oracle

    g = torch.Generator().manual_seed(4)
    B = 6
    y = torch.where(torch.rand(B, B, generator=g) < 0.5, 1.0, -1.0).double()
    x = torch.where(torch.rand(B, B, generator=g) < 0.5, 1.0, -1.0).double()
    ts = [1, 2, 5, 17, 60, 3]
    delta = 0.08
    batched = torch.as_tensor(binary_diffusion.posterior_prob_plus(y, x, torch.tensor(ts), delta)).double()
    assert batched.shape == (B, B), f"posterior_prob_plus returned shape {tuple(batched.shape)}, expected ({B}, {B})."
    want = torch.as_tensor(posterior_prob_plus_oracle(y, x, ts, delta))
    for b, t in enumerate(ts):
        single = torch.as_tensor(binary_diffusion.posterior_prob_plus(y[b:b + 1], x[b:b + 1], t, delta)).double()
        assert torch.allclose(single[0], want[b], atol=1e-5), (
            f"posterior_prob_plus on one example with int t={t}, delta={delta} is wrong "
            f"(y_t={y[b].tolist()}, x0={x[b].tolist()}).")
        assert torch.allclose(batched[b], single[0], atol=1e-6), (  # float32 powers of a tensor t are fine
            f"posterior_prob_plus with t = tensor({ts}) gives a different row {b} than a separate call with "
            f"t = {t}: example b must use its own t[b] along dim 0 (reshape the per-example values to "
            "(B, 1, ..., 1); on a square input a (B,) vector silently broadcasts along the last dim).")


@test_case(points=0.75, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_invariants_dtype_and_t1(binary_diffusion):
    """t = 1 recovers x0; the sign symmetry P(+ | y, x0) = 1 - P(+ | -y, -x0); values in [0, 1]; dtypes kept."""
    import torch

    g = torch.Generator().manual_seed(8)
    for dtype in (torch.float32, torch.float64):
        y = torch.where(torch.rand(3, 2, 7, generator=g) < 0.5, 1.0, -1.0).to(dtype)
        x = torch.where(torch.rand(3, 2, 7, generator=g) < 0.5, 1.0, -1.0).to(dtype)
        got1 = torch.as_tensor(binary_diffusion.posterior_prob_plus(y, x, 1, 0.2))
        assert got1.dtype == dtype and got1.shape == y.shape, (
            f"posterior_prob_plus returned {got1.dtype} of shape {tuple(got1.shape)} for {dtype} inputs of shape "
            f"{tuple(y.shape)}; keep y_t's dtype and shape.")
        assert torch.allclose(got1.double(), (1 + x.double()) / 2, atol=1e-6), (
            "posterior_prob_plus at t = 1 must be 1 where x0 = +1 and 0 where x0 = -1 (Y_{t-1} = Y_0 is "
            "known); did you use survival_prob(t) instead of survival_prob(t - 1) in the prior?")
        for t in (2, 9, 250):
            p = torch.as_tensor(binary_diffusion.posterior_prob_plus(y, x, t, 0.2)).double()
            q = torch.as_tensor(binary_diffusion.posterior_prob_plus(-y, -x, t, 0.2)).double()
            assert bool(((p >= 0) & (p <= 1)).all()), f"posterior_prob_plus(t={t}) returned values outside [0, 1]."
            assert torch.allclose(p, 1 - q, atol=1e-5), (
                f"posterior_prob_plus(y, x0, t={t}) != 1 - posterior_prob_plus(-y, -x0, t={t}): flipping every "
                "sign must flip the answer. The case x0 = -1 is probably handled like x0 = +1.")

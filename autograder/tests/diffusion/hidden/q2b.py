"""Q2b: mean and variance of the forward-process posterior q(x_{t-1} | x_t, x_0) (hidden checks).

Reference: the joint Gaussian of (x_{t-1}, x_t) given x_0, built step by step from the forward
process and conditioned numerically with the Schur complement in float64
(diffusion_oracles.gaussian_posterior_oracle); no closed form of the answer is used.
"""
from otter.test_files import test_case

from autograder.grading.testlib import with_correct
from autograder.grading.testlib.diffusion_oracles import alpha_bar_stand_in

OK_FORMAT = False
name = "q2b"
points = None


def _call(gaussian_diffusion, x_t, x0, t, betas):
    import torch

    out = gaussian_diffusion.q_posterior_mean_variance(x_t, x0, t, betas)
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"q_posterior_mean_variance returned {type(out).__name__}; return the tuple (mean, variance).")
    mean, var = torch.as_tensor(out[0]), torch.as_tensor(out[1])
    assert mean.shape == x_t.shape, f"the mean has shape {tuple(mean.shape)}, expected x_t's shape {tuple(x_t.shape)}."
    try:
        ok = torch.broadcast_shapes(var.shape, x_t.shape) == x_t.shape
    except RuntimeError:
        ok = False
    assert ok, (
        f"the variance has shape {tuple(var.shape)}, which does not broadcast to x_t's shape {tuple(x_t.shape)} "
        "without changing it; return a 0-dim tensor for an int t and (B, 1, ..., 1) for a (B,) tensor t.")
    return mean, torch.broadcast_to(var, x_t.shape)


def _mistakes(betas, t):
    """Closed forms of frequent wrong answers as functions of (x_t, x0): name -> (k_x0, k_xt, var)."""
    from autograder.grading.testlib.diffusion_oracles import alpha_bar_oracle, to_numpy

    b = to_numpy(betas).reshape(-1)
    ab = alpha_bar_oracle(b)
    beta, a_prev, a_t = float(b[t - 1]), float(ab[t - 1]), float(ab[t])
    right_var = (1 - a_prev) / (1 - a_t) * beta
    right_x0 = a_prev ** 0.5 * beta / (1 - a_t)
    right_xt = (1 - beta) ** 0.5 * (1 - a_prev) / (1 - a_t)
    prec_wrong = (1 - beta) / beta + 1 / (1 - a_t)            # precision with ᾱ_t for ᾱ_{t-1}
    return {
        "the variance is β_t; it must be β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · β_t": (right_x0, right_xt, beta),
        "the coefficient on x_t is sqrt(1 - β_t) (1 - ᾱ_t) / (1 - ᾱ_t) = sqrt(1 - β_t); its numerator must "
        "be sqrt(1 - β_t) (1 - ᾱ_{t-1})": (right_x0, (1 - beta) ** 0.5, right_var),
        "the coefficient on x_t is sqrt(1 - β_t) (1 - ᾱ_t) / (1 - ᾱ_t) and the variance β_t": (
            right_x0, (1 - beta) ** 0.5, beta),
        "the prior term of the precision uses 1 / (1 - ᾱ_t) and sqrt(ᾱ_t); q(x_{t-1} | x_0) has ᾱ_{t-1}": (
            a_t ** 0.5 / (1 - a_t) / prec_wrong, (1 - beta) ** 0.5 / beta / prec_wrong, 1 / prec_wrong),
        "the coefficients of x0 and x_t are swapped": (right_xt, right_x0, right_var),
        "the mean uses sqrt(ᾱ_t) instead of sqrt(ᾱ_{t-1}) on x0": (
            a_t ** 0.5 * beta / (1 - a_t), right_xt, right_var),
    }


def _name_mistake(mean, var, x_t, x0, betas, t):
    from autograder.grading.testlib.diffusion_oracles import name_the_mistake

    if not isinstance(t, int):
        return ""
    cands_mean = {k: c0 * x0 + ct * x_t for k, (c0, ct, _) in _mistakes(betas, t).items()}
    cands_var = {k: v for k, (_, _, v) in _mistakes(betas, t).items()}
    for key in cands_mean:
        if name_the_mistake(mean, {key: cands_mean[key]}, 1e-6, 1e-9) and \
                name_the_mistake(var, {key: cands_var[key]}, 1e-6, 1e-12):
            return f" Likely mistake: {key}."
    return ""


@test_case(points=1.0, hidden=True)
@with_correct("gaussian_diffusion", "alpha_bar", alpha_bar_stand_in)
def test_posterior_matches_gaussian_conditioning(gaussian_diffusion):
    """Property over random schedules and steps (float64): mean and variance equal the conditioning."""
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.diffusion_oracles import gaussian_posterior_oracle

    g = torch.Generator().manual_seed(17)
    x_t = torch.randn(2, 3, generator=g, dtype=torch.float64)
    x0 = torch.randn(2, 3, generator=g, dtype=torch.float64)

    @settings(derandomize=True, deadline=None, database=None, max_examples=50, report_multiple_bugs=False)
    @given(betas=st.lists(st.floats(1e-3, 0.6), min_size=1, max_size=25), data=st.data())
    def check(betas, data):
        t = data.draw(st.integers(1, len(betas)), label="t")
        b = torch.tensor(betas, dtype=torch.float64)
        mean, var = _call(gaussian_diffusion, x_t, x0, t, b)
        k_x0, k_xt, v = gaussian_posterior_oracle(betas, t)
        want_mean = k_x0 * x0 + k_xt * x_t
        ok_mean = torch.allclose(mean.double(), want_mean, rtol=1e-6, atol=1e-9)
        ok_var = torch.allclose(var.double(), torch.full_like(x_t, v), rtol=1e-6, atol=1e-12)
        assert ok_mean and ok_var, (
            f"q_posterior_mean_variance(t={t}, betas={betas}) has the wrong "
            f"{'mean' if not ok_mean else ''}{' and ' if not (ok_mean or ok_var) else ''}"
            f"{'variance' if not ok_var else ''}." + _name_mistake(mean, var, x_t, x0, b, t))

    check()


@test_case(points=0.75, hidden=True)
@with_correct("gaussian_diffusion", "alpha_bar", alpha_bar_stand_in)
def test_linear_schedule_all_regimes(gaussian_diffusion):
    """Linear schedule T = 1000 (float64): t = 1 (point mass at x0), small, middle and t = T."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import gaussian_posterior_oracle

    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    x_t = torch.randn(1, 8, generator=g, dtype=torch.float64)
    x0 = torch.randn(1, 8, generator=g, dtype=torch.float64)
    for t in (1, 2, 10, 500, 999, 1000):
        mean, var = _call(gaussian_diffusion, x_t, x0, t, betas)
        k_x0, k_xt, v = gaussian_posterior_oracle(betas, t)
        hint = _name_mistake(mean, var, x_t, x0, betas, t)
        if t == 1:
            assert torch.allclose(mean.double(), x0, atol=1e-9) and torch.allclose(var.double(), torch.zeros_like(x_t), atol=1e-12), (
                "at t = 1 the posterior q(x_0 | x_1, x_0) is the point mass at x0 (mean x0, variance 0); "
                "ᾱ_{t-1} = alpha_bar[0] = 1 gives exactly that." + hint)
        assert torch.allclose(mean.double(), k_x0 * x0 + k_xt * x_t, rtol=1e-6, atol=1e-9), (
            f"q_posterior_mean_variance(t={t}) on the linear schedule (1e-4..0.02, T=1000) has the wrong mean." + hint)
        assert torch.allclose(var.double(), torch.full_like(x_t, v), rtol=1e-6, atol=1e-13), (
            f"q_posterior_mean_variance(t={t}) on the linear schedule (1e-4..0.02, T=1000) has the wrong "
            f"variance {float(var.reshape(-1)[0]):.6g}." + hint)


@test_case(points=0.75, hidden=True)
@with_correct("gaussian_diffusion", "alpha_bar", alpha_bar_stand_in)
def test_per_example_t_equals_separate_calls(gaussian_diffusion):
    """A (B,) tensor t gives the same rows as separate int-t calls; (B, B) inputs catch dim mix-ups."""
    import torch

    g = torch.Generator().manual_seed(9)
    betas = torch.linspace(0.01, 0.3, 12, dtype=torch.float64)
    B = 5
    x_t = torch.randn(B, B, generator=g, dtype=torch.float64)
    x0 = torch.randn(B, B, generator=g, dtype=torch.float64)
    ts = [1, 12, 4, 7, 2]
    mean, var = _call(gaussian_diffusion, x_t, x0, torch.tensor(ts), betas)
    for b, t in enumerate(ts):
        m1, v1 = _call(gaussian_diffusion, x_t[b:b + 1], x0[b:b + 1], t, betas)
        same = torch.allclose(mean[b], m1[0], rtol=1e-6, atol=1e-10) and torch.allclose(var[b], v1[0], rtol=1e-6, atol=1e-12)
        assert same, (
            f"q_posterior_mean_variance with t = tensor({ts}) gives a different result for example {b} than a "
            f"separate call with t = {t}: example b must use its own t[b] along dim 0 (shape (B, 1, ..., 1); "
            "on a square input a (B,) vector silently broadcasts along the last dim instead).")
    mean3, var3 = _call(gaussian_diffusion, x_t.reshape(B, 1, B), x0.reshape(B, 1, B), torch.tensor(ts), betas)
    assert torch.allclose(mean3.reshape(B, B), mean, rtol=1e-6, atol=1e-10), (
        "q_posterior_mean_variance depends on the number of dims of x_t: with x_t of shape (B, 1, B) the "
        "mean differs from the (B, B) case; broadcast per-example values as (B, 1, ..., 1).")


@test_case(points=0.5, hidden=True)
@with_correct("gaussian_diffusion", "alpha_bar", alpha_bar_stand_in)
def test_dtypes_and_device(gaussian_diffusion, device):
    """float32 and float64 are kept (values checked in float32 too), on the grading device."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import gaussian_posterior_oracle

    device = device or "cpu"
    betas64 = torch.linspace(0.01, 0.2, 30, dtype=torch.float64)
    for dtype, tol in ((torch.float32, 2e-4), (torch.float64, 1e-9)):
        x_t = torch.linspace(-2, 2, 12, dtype=dtype, device=device).reshape(2, 2, 3)
        x0 = torch.linspace(1, -1, 12, dtype=dtype, device=device).reshape(2, 2, 3)
        for t in (5, torch.tensor([3, 30], device=device)):
            out = gaussian_diffusion.q_posterior_mean_variance(x_t, x0, t, betas64.to(dtype).to(device))
            assert isinstance(out, (tuple, list)) and len(out) == 2, "return the tuple (mean, variance)."
            for label, value in zip(("mean", "variance"), out):
                value = torch.as_tensor(value)
                assert value.dtype == dtype and value.device.type == torch.device(device).type, (
                    f"the {label} is {value.dtype} on {value.device} for {dtype} inputs on {device}; keep x_t's "
                    "dtype and device (cast float64 schedule values with .to(x_t.dtype)).")
            mean, var = _call(gaussian_diffusion, x_t, x0, t, betas64.to(dtype).to(device))
            ts = [t] * 2 if isinstance(t, int) else t.tolist()
            for b, tb in enumerate(ts):
                k_x0, k_xt, v = gaussian_posterior_oracle(betas64, tb)
                want = (k_x0 * x0[b] + k_xt * x_t[b]).double().cpu()
                assert torch.allclose(mean[b].double().cpu(), want, rtol=tol, atol=tol) and \
                    torch.allclose(var[b].double().cpu(), torch.full_like(want, v), rtol=tol, atol=tol), (
                        f"q_posterior_mean_variance on {dtype} inputs (t = {tb}, example {b}, betas from 0.01 to 0.2, "
                        f"T = 30) is off by more than {tol:g}; if the float64 checks pass, keep more precision "
                        "(compute the schedule in float64 and cast at the end).")

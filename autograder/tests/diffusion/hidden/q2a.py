"""Q2a: alpha_bar schedule and one-shot Gaussian forward sampling (hidden checks).

References: the explicit running product for alpha_bar and the step-by-step moments of the chain
x_s = sqrt(1 - β_s) x_{s-1} + sqrt(β_s) ε_s for q(x_t | x_0) (diffusion_oracles).
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q2a"
points = None


def _linear_betas(T=1000, dtype=None):
    import torch

    return torch.linspace(1e-4, 0.02, T, dtype=dtype or torch.float64)


def _expected_q_sample(x0, t, betas, noise):
    """sqrt(signal) * x0 + sqrt(variance) * noise with the chain moments, per example (float64)."""
    import math

    import torch

    from autograder.grading.testlib.diffusion_oracles import gaussian_marginal_oracle

    ts = [int(t)] * x0.shape[0] if isinstance(t, int) else [int(v) for v in t.tolist()]
    rows = []
    for b, tb in enumerate(ts):
        coef, var = gaussian_marginal_oracle(betas, tb)
        rows.append(coef * x0[b].double() + math.sqrt(var) * noise[b].double())
    return torch.stack(rows)


@test_case(points=0.75, hidden=True)
def test_alpha_bar_matches_explicit_product(gaussian_diffusion):
    """Property over random schedules (float64, tight), plus the linear T = 1000 schedule in both dtypes."""
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.diffusion_oracles import alpha_bar_oracle

    @settings(derandomize=True, deadline=None, database=None, max_examples=40, report_multiple_bugs=False)
    @given(betas=st.lists(st.floats(1e-4, 0.5), min_size=1, max_size=40))
    def check(betas):
        b = torch.tensor(betas, dtype=torch.float64)
        got = torch.as_tensor(gaussian_diffusion.alpha_bar(b))
        want = torch.as_tensor(alpha_bar_oracle(betas))
        assert got.shape == want.shape, (
            f"alpha_bar(betas of length {len(betas)}) returned shape {tuple(got.shape)}, expected "
            f"({len(betas) + 1},): alpha_bar[0] = 1 for t = 0, then one entry per step.")
        assert got.dtype == torch.float64, f"alpha_bar returned {got.dtype} for float64 betas; keep betas' dtype."
        hint = ""
        if torch.allclose(got[1:], torch.cumprod(b, 0), rtol=1e-9):
            hint = " You multiplied the betas; ᾱ_t is the product of (1 - β_i)."
        elif torch.allclose(got, want, rtol=1e-5):
            hint = (" The values are right to about float32 precision only: accumulate the product in "
                    "float64 (or at least in betas' dtype) without a float32 round trip.")
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-300), (
            f"alpha_bar(betas={betas}) is wrong; entry t must be Π_(i<=t) (1 - β_i) with entry 0 equal to 1." + hint)

    check()
    for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        betas = _linear_betas(dtype=dtype)
        got = torch.as_tensor(gaussian_diffusion.alpha_bar(betas))
        assert got.dtype == dtype, f"alpha_bar returned {got.dtype} for {dtype} betas; keep betas' dtype."
        want = torch.as_tensor(alpha_bar_oracle(betas))
        assert got.shape == want.shape and torch.allclose(got.double(), want, rtol=rtol, atol=0.0), (
            f"alpha_bar on the linear schedule (T = 1000, β from 1e-4 to 0.02, {dtype}) deviates from the "
            f"product by more than a relative {rtol:g} (first/last values {got[:2].tolist()} ... "
            f"{got[-1:].tolist()}).")


@test_case(points=0.75, hidden=True)
def test_q_sample_given_noise(gaussian_diffusion):
    """With noise given, q_sample is exact; per-example t matches separate calls; square inputs."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import (
        gaussian_marginal_oracle,
        name_the_mistake,
    )

    g = torch.Generator().manual_seed(31)
    betas = _linear_betas(200).mul(5)                    # β from 5e-4 to 0.1
    B = 6
    x0 = torch.randn(B, B, generator=g, dtype=torch.float64)
    noise = torch.randn(B, B, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 2, 17, 90, 150, 200])
    for dtype, tol in ((torch.float64, 1e-6), (torch.float32, 1e-5)):
        got = torch.as_tensor(gaussian_diffusion.q_sample(x0.to(dtype), t, betas.to(dtype), noise=noise.to(dtype)))
        assert got.shape == x0.shape and got.dtype == dtype, (
            f"q_sample returned {got.dtype} {tuple(got.shape)} for {dtype} x0 of shape {tuple(x0.shape)}; "
            "keep x0's shape and dtype.")
        want = _expected_q_sample(x0, t, betas, noise)
        if not torch.allclose(got.double(), want, rtol=tol, atol=tol):
            ab = {int(v): gaussian_marginal_oracle(betas, int(v))[0] ** 2 for v in range(0, 201)}

            def make(coef_x0, coef_eps, shift=0, last_dim=False):
                ts = [min(max(int(v) + shift, 0), 200) for v in t.tolist()]
                cx = torch.tensor([coef_x0(ab[v]) for v in ts], dtype=torch.float64)
                ce = torch.tensor([coef_eps(ab[v]) for v in ts], dtype=torch.float64)
                if last_dim:
                    return cx * x0 + ce * noise
                return cx[:, None] * x0 + ce[:, None] * noise

            candidates = {
                "the noise is scaled by (1 - ᾱ_t) instead of sqrt(1 - ᾱ_t)": make(lambda a: a ** 0.5, lambda a: 1 - a),
                "x0 is scaled by ᾱ_t instead of sqrt(ᾱ_t)": make(lambda a: a, lambda a: (1 - a) ** 0.5),
                "ᾱ_{t-1} is used instead of ᾱ_t (alpha_bar has length T + 1: index it with t, not t - 1)":
                    make(lambda a: a ** 0.5, lambda a: (1 - a) ** 0.5, shift=-1),
                "ᾱ_{t+1} is used instead of ᾱ_t (betas[t - 1] is β_t)":
                    make(lambda a: a ** 0.5, lambda a: (1 - a) ** 0.5, shift=1),
                "the per-example coefficients were broadcast along the last dim instead of dim 0; reshape "
                "them to (B, 1, ..., 1)": make(lambda a: a ** 0.5, lambda a: (1 - a) ** 0.5, last_dim=True),
            }
            found = name_the_mistake(got, candidates, rtol=1e-5, atol=1e-6)
            if found is None:
                same_t = torch.as_tensor(gaussian_diffusion.q_sample(x0.to(dtype), int(t[0]), betas.to(dtype),
                                                                     noise=noise.to(dtype)))
                if torch.allclose(got, same_t):
                    found = "every example used t[0]; example b must use its own t[b]"
            raise AssertionError(
                f"q_sample(x0, t={t.tolist()}, betas=linear 5e-4..0.1 (T=200), noise=...) on {dtype} inputs "
                "does not equal sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise per example."
                + (f" Likely mistake: {found}." if found else ""))
        for b in (0, 3, 5):
            single = torch.as_tensor(gaussian_diffusion.q_sample(x0[b:b + 1].to(dtype), int(t[b]), betas.to(dtype),
                                                                 noise=noise[b:b + 1].to(dtype)))
            assert torch.allclose(single.double(), want[b:b + 1], rtol=tol, atol=tol), (
                f"q_sample with int t = {int(t[b])} on one example does not match the closed form.")
    other = noise.flip(0)
    a = torch.as_tensor(gaussian_diffusion.q_sample(x0, 50, betas, noise=noise))
    b = torch.as_tensor(gaussian_diffusion.q_sample(x0, 50, betas, noise=other))
    assert not torch.allclose(a, b), (
        "q_sample returned the same x_t for two different `noise` tensors: when noise is given, use it "
        "instead of drawing new noise.")


@test_case(points=0.75, hidden=True)
def test_q_sample_noise_none_statistics(gaussian_diffusion):
    """noise=None: the standardised residuals z = (x_t - sqrt(ᾱ_t) x0) / sqrt(1 - ᾱ_t) are i.i.d. N(0, 1).

    x0 of shape (4, 50000) (a different constant per row), t = [1, 10, 40, 100] (T = 100).
    Checks, each at level 1e-6 / 11 (union bound, false-fail probability <= 1e-6 in total):
    - per row, the mean of z lies in the exact normal interval (4 checks);
    - per row, sum z^2 lies in the exact chi-square(50000) region (4 checks);
    - for row pairs (0, 1), (1, 2), (2, 3), sum ((z_a + z_b) / sqrt 2)^2 lies in the chi-square(50000)
      region, which fails if rows share their noise (3 checks).
    """
    import math

    import torch

    from autograder.grading.testlib.diffusion_oracles import gaussian_marginal_oracle
    from autograder.grading.testlib.stats import (
        FALSE_FAIL,
        chi2_region,
        normal_mean_halfwidth,
        per_check,
    )

    alpha = per_check(11, FALSE_FAIL)
    n = 50000
    betas = torch.linspace(1e-3, 0.05, 100, dtype=torch.float64)
    t = torch.tensor([1, 10, 40, 100])
    x0 = torch.tensor([2.0, -1.0, 0.5, 3.0], dtype=torch.float64)[:, None].expand(4, n).contiguous()
    x_t = torch.as_tensor(gaussian_diffusion.q_sample(x0, t, betas, generator=torch.Generator().manual_seed(77)))
    assert x_t.shape == x0.shape and x_t.dtype == torch.float64, (
        f"q_sample(noise=None) returned {x_t.dtype} {tuple(x_t.shape)}; expected float64 {tuple(x0.shape)}.")
    z = torch.empty_like(x0)
    for b in range(4):
        coef, var = gaussian_marginal_oracle(betas, int(t[b]))
        z[b] = (x_t[b] - coef * x0[b]) / math.sqrt(var)
    h = normal_mean_halfwidth(n, 1.0, alpha)
    lo, hi = chi2_region(n, alpha)
    for b in range(4):
        mean = float(z[b].mean())
        assert abs(mean) <= h, (
            f"q_sample(noise=None): for example {b} (t = {int(t[b])}) the noise has mean {mean:.4f} instead "
            f"of 0 (tolerance {h:.4f}): "
            + ("all its coordinates got the same noise value; draw one independent value per "
               "coordinate (x0's full shape)." if float(z[b].std()) < 1e-6 else
               "draw standard normal noise (torch.randn / normal_like), not torch.rand, and check the "
               "signal coefficient sqrt(ᾱ_t)."))
        ss = float((z[b] ** 2).sum())
        assert lo <= ss <= hi, (
            f"q_sample(noise=None): for example {b} (t = {int(t[b])}) the noise variance is {ss / n:.4f} "
            f"relative to 1 - ᾱ_t (region [{lo / n:.4f}, {hi / n:.4f}]): the noise must be N(0, I) with "
            "x0's full shape, scaled by sqrt(1 - ᾱ_t).")
    for a, b in ((0, 1), (1, 2), (2, 3)):
        ss = float((((z[a] + z[b]) / math.sqrt(2)) ** 2).sum())
        assert lo <= ss <= hi, (
            f"q_sample(noise=None): the noise of examples {a} and {b} is correlated (variance of their "
            f"average {ss / n:.3f}, expected 1): draw independent noise for every example (x0's full shape).")


@test_case(points=0.25, hidden=True)
def test_q_sample_uses_generator(gaussian_diffusion):
    """noise=None draws from `generator`: equal seeds, equal samples; a used generator moves on."""
    import torch

    betas = _linear_betas(50).mul(10)
    x0 = torch.zeros(3, 500)
    torch.manual_seed(1)
    a = torch.as_tensor(gaussian_diffusion.q_sample(x0, 30, betas, generator=torch.Generator().manual_seed(5)))
    torch.manual_seed(2)
    b = torch.as_tensor(gaussian_diffusion.q_sample(x0, 30, betas, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(a, b), (
        "q_sample(noise=None) gave different samples for two generators with the same seed: draw the "
        "noise with generator=generator (e.g. normal_like(x0, generator)), not from the global state.")
    g = torch.Generator().manual_seed(5)
    c = torch.as_tensor(gaussian_diffusion.q_sample(x0, 30, betas, generator=g))
    d = torch.as_tensor(gaussian_diffusion.q_sample(x0, 30, betas, generator=g))
    assert not torch.equal(c, d), "two calls with the same generator returned the same sample: let its state advance."


@test_case(points=0.5, hidden=True)
def test_dtypes_and_device(gaussian_diffusion, device):
    """alpha_bar and q_sample keep dtype and device (float32 and float64) on the grading device."""
    import torch

    device = device or "cpu"
    for dtype in (torch.float32, torch.float64):
        betas = torch.linspace(1e-3, 0.1, 20, dtype=dtype, device=device)
        ab = torch.as_tensor(gaussian_diffusion.alpha_bar(betas))
        assert ab.dtype == dtype and ab.device.type == torch.device(device).type, (
            f"alpha_bar returned {ab.dtype} on {ab.device} for {dtype} betas on {device}; keep betas' dtype "
            "and device (create the leading 1 with dtype= and device=, cast the float64 product back).")
        x0 = torch.randn(4, 3, 2, 2, dtype=dtype, device=device)
        for t in (7, torch.tensor([1, 5, 20, 12], device=device)):
            for kwargs in ({"noise": torch.randn(4, 3, 2, 2, dtype=dtype, device=device)}, {"generator": None}):
                x_t = torch.as_tensor(gaussian_diffusion.q_sample(x0, t, betas, **kwargs))
                assert x_t.shape == x0.shape, f"q_sample returned shape {tuple(x_t.shape)}, expected {tuple(x0.shape)}."
                assert x_t.dtype == dtype and x_t.device.type == torch.device(device).type, (
                    f"q_sample({'noise given' if 'noise' in kwargs else 'noise=None'}, t={t}) returned {x_t.dtype} "
                    f"on {x_t.device} for {dtype} x0 on {device}; cast the float64 schedule values to x0's dtype "
                    "and keep x0's device.")

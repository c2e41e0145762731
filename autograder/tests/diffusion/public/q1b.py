"""Q1b: one-shot forward sampling of the binary chain (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1b"
points = None


# survival_prob(t, delta) at every call this file's sample_forward calls make (Q1(a)'s values): the
# checks run with this table in place of your survival_prob, so that Q1(b) is checked on its own
_SURVIVAL = {(0, 0.1): 1.0, (3, 0.1): 0.512, (4, 0.1): 0.4096, (5, 0.1): 0.32768,
             (7, 0.1): 0.2097152, (20, 0.02): 0.4420024338794074}


def _sample_forward(binary_diffusion, substituted, *args, **kwargs):
    """Your sample_forward, calling the table above instead of your survival_prob."""
    with substituted(binary_diffusion, "survival_prob", _SURVIVAL):
        return binary_diffusion.sample_forward(*args, **kwargs)


def _devices():
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@test_case(points=0.5, hidden=False)
def test_sample_forward_shape_dtype_device_and_t0(binary_diffusion, substituted):
    """±1 output with x0's shape, dtype and device; t = 0 returns x0 unchanged."""
    import torch

    for device in _devices():
        for dtype in (torch.float32, torch.float64):
            g = torch.Generator().manual_seed(0)
            x0 = torch.where(torch.rand(3, 2, 5, 5, generator=g) < 0.5, 1.0, -1.0).to(device, dtype)
            for t in (0, 4, torch.tensor([0, 3, 7], device=device)):
                y = _sample_forward(binary_diffusion, substituted, x0, t, 0.1, generator=None)
                assert isinstance(y, torch.Tensor), f"sample_forward returned {type(y).__name__}, expected a tensor."
                assert y.shape == x0.shape, (
                    f"sample_forward(x0 of shape {tuple(x0.shape)}, t={t}) returned shape {tuple(y.shape)}; "
                    "the output must have x0's shape (one noisy pixel per pixel).")
                assert y.dtype == dtype, (
                    f"sample_forward returned dtype {y.dtype} for x0 of dtype {dtype}; keep x0's dtype "
                    "(build ±1 values with x0.dtype, e.g. torch.where(..., x0, -x0)).")
                assert y.device.type == device, (
                    f"sample_forward returned a tensor on {y.device} for x0 on {device}; create random "
                    "numbers on x0's device.")
                assert bool(((y == 1) | (y == -1)).all()), "sample_forward returned values other than ±1."
            y0 = _sample_forward(binary_diffusion, substituted, x0, 0, 0.1)
            assert torch.equal(y0, x0), (
                "sample_forward(x0, t=0, ...) changed some pixels; at t = 0 nothing has been replaced "
                "yet (survival probability 1), so Y_0 must equal x0.")
            yt = _sample_forward(binary_diffusion, substituted, x0, torch.tensor([0, 5, 0], device=device), 0.1)
            assert torch.equal(yt[0], x0[0]) and torch.equal(yt[2], x0[2]), (
                "sample_forward with t = tensor([0, 5, 0]) changed examples 0 or 2, whose t is 0; "
                "t[b] must apply to example b along dim 0 (reshape to (B, 1, ..., 1)).")


@test_case(points=0.5, hidden=False)
def test_sample_forward_marginal_and_generator(binary_diffusion, substituted):
    """The fraction of unchanged pixels is close to (1 + (1 - 2*delta)^t) / 2, and the changed
    pixels take both values (each pixel has its own coins).

    x0 has random signs, so the changed pixels of a correct sampler (each is -x0) show both values.
    Hoeffding's inequality, P(|mean - p| >= h) <= 2 exp(-2 n h^2), bounds the chance that a correct sampler fails
    each of the two fraction checks at 5e-7 (false-fail probability <= 1e-6 for this test); the
    shared-coin check fails a correct sampler only if its thousands of changed pixels all sit where x0
    has the same sign (probability below 2^-1000).
    """
    import math

    import torch

    n = 40000
    half_width = math.sqrt(math.log(2 / 5e-7) / (2 * n))  # about 0.0138
    signs = torch.rand(1, n, generator=torch.Generator().manual_seed(40))
    x0 = torch.where(signs < 0.5, 1.0, -1.0)
    for t, delta in ((3, 0.1), (20, 0.02)):
        g = torch.Generator().manual_seed(1234 + t)
        y = torch.as_tensor(_sample_forward(binary_diffusion, substituted, x0, t, delta, generator=g))
        changed = y[y != x0] if y.shape == x0.shape else y.new_zeros(0)
        assert changed.unique().numel() != 1, (
            f"sample_forward(x0 of random signs, shape (1, {n}), t={t}, delta={delta}): every changed "
            f"pixel became {float(changed[0]):+.0f}, so the coins are shared: each pixel needs its own "
            "independent coins (draw the uniforms with x0's full shape).")
        frac_same = float((y == x0).double().mean())
        want = (1 + (1 - 2 * delta) ** t) / 2
        hint = ""
        if frac_same in (0.0, 1.0):
            hint = (" All pixels stayed or all changed together, so the coins are shared: each "
                    "pixel needs its own independent coins (draw the uniforms with x0's full shape).")
        elif abs(frac_same - (1 - delta) ** t - (1 - (1 - delta) ** t) / 2) < half_width:
            hint = " It matches survival (1 - delta)^t: a pixel is replaced with probability 2*delta per step."
        elif abs(frac_same - (1 - 2 * delta) ** t) < half_width:
            hint = (" It matches (1 - 2*delta)^t: a replaced pixel shows a FAIR coin, which equals the "
                    "original pixel half of the time.")
        elif abs(frac_same - max(0.0, 1 - t * delta)) < half_width:
            hint = " It matches a single flip with probability t*delta; flips over t steps do not add up."
        assert abs(frac_same - want) < half_width, (
            f"sample_forward(x0 of random signs, t={t}, delta={delta}): {frac_same:.4f} of the pixels "
            f"are unchanged, expected about {want:.4f} (+- {half_width:.4f})." + hint)
    g1 = torch.Generator().manual_seed(7)
    g2 = torch.Generator().manual_seed(7)
    a = _sample_forward(binary_diffusion, substituted, x0[:, :2000], 5, 0.1, generator=g1)
    b = _sample_forward(binary_diffusion, substituted, x0[:, :2000], 5, 0.1, generator=g2)
    assert torch.equal(a, b), (
        "two calls with generators seeded identically gave different samples: draw every random "
        "number with generator=generator (e.g. torch.rand(..., generator=generator)), not from the "
        "global random state.")

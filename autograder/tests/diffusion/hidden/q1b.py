"""Q1b: one-shot forward sampling of the binary chain (hidden checks).

Statistical checks use exact binomial acceptance regions (autograder.grading.testlib.stats); each test
case's docstring states its false-fail probability for a correct sampler.
"""
from otter.test_files import test_case

from autograder.grading.testlib import with_correct
from autograder.grading.testlib.diffusion_oracles import survival_prob_stand_in

OK_FORMAT = False
name = "q1b"
points = None


def _signs(shape, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(shape, generator=g) < 0.5, 1.0, -1.0)


@test_case(points=0.5, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_t0_rows_are_identity_and_t_is_per_example(binary_diffusion):
    """Rows with t[b] = 0 are returned unchanged, others are noised: t indexes dim 0.

    Uses square (B, B) inputs so that a (B,) vector of per-example values broadcast along the
    last dim (instead of dim 0) is caught. A correct sampler fails only if the noised row 5
    (survival 0.4^60 < 1e-23, so its pixels are fair coins) equals x0: probability about 2^-64.
    """
    import torch

    for dtype in (torch.float32, torch.float64):
        x0 = _signs((64, 64), 11).to(dtype)
        t = torch.zeros(64, dtype=torch.long)
        t[5], t[40] = 60, 50                # two noised rows, all others clean
        y = binary_diffusion.sample_forward(x0, t, 0.3, generator=torch.Generator().manual_seed(3))
        assert isinstance(y, torch.Tensor) and y.shape == x0.shape and y.dtype == dtype, (
            f"sample_forward on {dtype} x0 of shape (64, 64) returned "
            f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}; keep shape and dtype.")
        clean = torch.ones(64, dtype=torch.bool)
        clean[5] = clean[40] = False
        changed_clean = int((y[clean] != x0[clean]).sum())
        hint = ""
        if int((y[:, 5] != x0[:, 5]).sum()) > 10:
            hint = (" Column 5 was noised instead of row 5: the (B,) survival probabilities were "
                    "broadcast along the last dim; reshape them to (B, 1, ..., 1).")
        assert changed_clean == 0, (
            f"sample_forward(x0 of shape (64, 64), t with t[b] = 0 except t[5] = 60 and t[40] = 50, "
            f"delta=0.3) changed {changed_clean} pixels in rows whose t is 0. Example b must use its own "
            "t[b]; at t = 0 the survival probability is 1." + hint)
        assert not torch.equal(y[5], x0[5]), (
            "row 5 (t = 60, delta = 0.3) came back unchanged: per-example t was not applied "
            "(did you use a single t for the whole batch?).")
    x0 = _signs((3, 4, 5), 12)
    y = binary_diffusion.sample_forward(x0, 0, 0.25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, x0), "sample_forward(x0, t=0, delta) must return x0 unchanged (survival probability 1 at t = 0)."


@test_case(points=0.5, hidden=True, failure_message=(
    "This test calls sample_forward with t = 10**12: sample Y_t in one shot with at most two coins "
    "per pixel, never by simulating the t steps."))
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_one_shot_for_huge_t(binary_diffusion):
    """t = 10**12 returns at once (no loop over the t steps) with fair-coin pixels.

    No timing is measured: a one-shot sampler answers in milliseconds, while simulating 10**12
    steps cannot finish under any machine's time limit, so the case's limit (a backstop) stops it.
    The count of +1 pixels is checked against an exact Binomial(1000, 1/2) region at level 1e-6
    (false-fail probability <= 1e-6).
    """
    import torch

    from autograder.grading.testlib.stats import FALSE_FAIL, binomial_region

    x0 = torch.ones(2, 500)
    y = binary_diffusion.sample_forward(x0, 10 ** 12, 0.1, generator=torch.Generator().manual_seed(8))
    plus = int((torch.as_tensor(y) == 1).sum())
    lo, hi = binomial_region(1000, 0.5, FALSE_FAIL)
    assert lo <= plus <= hi, (
        f"sample_forward(all-ones x0, t=10**12, delta=0.1) has {plus} of 1000 pixels equal to +1; after "
        f"so many steps every pixel is a fair coin (expected about 500, region [{lo}, {hi}]).")
    y2 = binary_diffusion.sample_forward(x0, torch.tensor([10 ** 12, 0]), 0.1,
                                         generator=torch.Generator().manual_seed(9))
    assert torch.equal(torch.as_tensor(y2)[1], x0[1]), (
        "with t = tensor([10**12, 0]) example 1 (t = 0) must come back unchanged.")


@test_case(points=0.75, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_marginals_per_example(binary_diffusion):
    """P(Y_t[j] = x0[j]) = (1 + (1 - 2 delta)^t) / 2 for every t of a per-example t vector.

    x0: random signs, 20000 pixels per example. Each of the 11 noised rows is an exact binomial
    check at level 1e-6 / 11 (union bound): false-fail probability <= 1e-6. The reference values
    come from matrix powers of the flip chain (diffusion_oracles.keep_prob_oracle).
    """
    import torch

    from autograder.grading.testlib.diffusion_oracles import keep_prob_oracle
    from autograder.grading.testlib.stats import FALSE_FAIL, binomial_region, per_check

    setups = [(0.1, [1, 2, 3, 5, 10, 40]), (0.02, [1, 7, 30, 100, 400])]
    alpha = per_check(sum(len(ts) for _, ts in setups), FALSE_FAIL)
    n = 20000
    for k, (delta, ts) in enumerate(setups):
        x0 = _signs((len(ts), n), 100 + k)
        y = binary_diffusion.sample_forward(x0, torch.tensor(ts), delta,
                                            generator=torch.Generator().manual_seed(200 + k))
        same = (torch.as_tensor(y) == x0).sum(dim=1).tolist()
        for b, t in enumerate(ts):
            p = keep_prob_oracle(t, delta)
            lo, hi = binomial_region(n, p, alpha)
            frac = same[b] / n
            hints = {
                "survival (1 - delta)^t: replacement happens with probability 2*delta per step, not delta":
                    (1 + (1 - delta) ** t) / 2,
                "a single flip with probability t*delta: flips over t steps do not simply add up":
                    max(0.0, 1 - t * delta),
                "replaced pixels are set to -x0; they should show a FAIR coin (equal to x0 half the time)":
                    (1 - 2 * delta) ** t,
                "survival (1 - 2*delta)^(t-1) or ^(t+1): off by one in t":
                    (1 + (1 - 2 * delta) ** (t - 1)) / 2,
            }
            changed = torch.as_tensor(y)[b][torch.as_tensor(y)[b] != x0[b]]
            shared = changed.numel() > 0 and changed.unique().numel() == 1  # x0 has both signs
            hint = (" Every changed pixel of this example took the same value, so the coins are "
                    "shared: each pixel needs its own independent coins (draw the uniforms with "
                    "x0's full shape)." if shared else "")
            for text, value in ({} if shared else hints).items():
                close = 5 * (max(value * (1 - value), 1e-4) / n) ** 0.5
                if abs(frac - value) < close and abs(value - p) > close:
                    hint = " This matches " + text + "."
                    break
            assert lo <= same[b] <= hi, (
                f"sample_forward with delta={delta}, t[b]={t} (per-example t = {ts}): {frac:.4f} of the "
                f"pixels of example {b} equal x0, expected about {p:.4f} (acceptance region "
                f"[{lo / n:.4f}, {hi / n:.4f}], false-fail probability <= 1e-6)." + hint)


@test_case(points=0.75, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_pixels_and_examples_are_independent(binary_diffusion):
    """Each pixel has its own coins: no coin shared by all pixels, along a dim, or across the batch.

    x0 = all +1 of shape (4, 64, 64), t = 2, delta = 0.1, so P(Y = +1) = p = 0.82 per pixel.
    Checks (exact binomial regions, 7 checks at level 1e-6 / 7 each, false-fail probability <= 1e-6):
    - the number of +1 pixels in each of the 4 images is Binomial(4096, p);
    - along dims 0, 1 and 2, disjoint pairs of neighbours (even index vs odd index) agree with
      probability p^2 + (1 - p)^2 if they are independent (Binomial(8192, .)).
    """
    import torch

    from autograder.grading.testlib.diffusion_oracles import keep_prob_oracle
    from autograder.grading.testlib.stats import FALSE_FAIL, binomial_region, per_check

    alpha = per_check(7, FALSE_FAIL)
    delta, t = 0.1, 2
    p = keep_prob_oracle(t, delta)
    x0 = torch.ones(4, 64, 64)
    y = torch.as_tensor(binary_diffusion.sample_forward(x0, t, delta, generator=torch.Generator().manual_seed(5)))
    lo, hi = binomial_region(64 * 64, p, alpha)
    for b in range(4):
        plus = int((y[b] == 1).sum())
        assert lo <= plus <= hi, (
            f"sample_forward(all-ones x0 of shape (4, 64, 64), t=2, delta=0.1): image {b} has {plus} of "
            f"4096 pixels equal to +1, expected about {4096 * p:.0f} (region [{lo}, {hi}]). If every image "
            "is off in the same direction, the per-pixel probability is wrong (see the marginal test); a "
            "count near 4096, or counts that differ wildly between images, suggest one coin shared by all "
            "pixels of an image (a single replacement coin or a single fair coin); draw one coin per pixel.")
    p_pair = p * p + (1 - p) * (1 - p)
    for dim in (0, 1, 2):
        even = y.index_select(dim, torch.arange(0, y.shape[dim], 2))
        odd = y.index_select(dim, torch.arange(1, y.shape[dim], 2))
        agree = int((even == odd).sum())
        n_pairs = even.numel()
        lo, hi = binomial_region(n_pairs, p_pair, alpha)
        where = "across the batch (dim 0)" if dim == 0 else f"along dim {dim}"
        assert lo <= agree <= hi, (
            f"sample_forward(all-ones x0 of shape (4, 64, 64), t=2, delta=0.1): neighbouring pixels "
            f"{where} agree in {agree} of {n_pairs} disjoint pairs, expected about {n_pairs * p_pair:.0f} "
            f"(region [{lo}, {hi}]) for independent pixels. The coins seem to be shared {where}; "
            "draw the uniforms with x0's full shape.")


@test_case(points=0.5, hidden=True)
@with_correct("binary_diffusion", "survival_prob", survival_prob_stand_in)
def test_uses_generator(binary_diffusion):
    """All randomness comes from `generator`: equal seeds give equal samples, a used generator moves on.

    Deterministic given the generator; a correct sampler fails only if two independent samples of
    4096 noised pixels coincide (probability < 1e-100).
    """
    import torch

    x0 = _signs((2, 2048), 21).double()
    torch.manual_seed(1)
    a = binary_diffusion.sample_forward(x0, 6, 0.1, generator=torch.Generator().manual_seed(99))
    torch.manual_seed(2)
    b = binary_diffusion.sample_forward(x0, 6, 0.1, generator=torch.Generator().manual_seed(99))
    assert torch.equal(torch.as_tensor(a), torch.as_tensor(b)), (
        "sample_forward gave different samples for two generators with the same seed: draw every "
        "random number with generator=generator (not torch's global random state, not a new Generator).")
    g = torch.Generator().manual_seed(99)
    first = binary_diffusion.sample_forward(x0, 6, 0.1, generator=g)
    second = binary_diffusion.sample_forward(x0, 6, 0.1, generator=g)
    assert not torch.equal(torch.as_tensor(first), torch.as_tensor(second)), (
        "two consecutive calls with the same generator returned the same sample: the generator's state "
        "must advance (do not re-seed or copy it inside sample_forward).")
    c = binary_diffusion.sample_forward(x0, 6, 0.1, generator=torch.Generator().manual_seed(100))
    assert not torch.equal(torch.as_tensor(a), torch.as_tensor(c)), (
        "generators with different seeds gave the same sample: the generator argument is not used.")
    assert torch.as_tensor(a).dtype == torch.float64, "sample_forward must keep x0's dtype (float64 here)."

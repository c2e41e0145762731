"""Q1e: Bernoulli KL divergence and the binary diffusion training loss (hidden checks).

References: explicit sums over outcomes (diffusion_oracles.bernoulli_kl_oracle) and, for the loss,
brute-force Bayes targets with a float64 log-sigmoid (diffusion_oracles.diffusion_loss_oracle).
"""
from otter.test_files import test_case

from autograder.grading.testlib import with_correct
from autograder.grading.testlib.diffusion_oracles import posterior_prob_plus_stand_in

OK_FORMAT = False
name = "q1e"
points = None


def _random_case(seed, shape, t_max=30):
    import torch

    g = torch.Generator().manual_seed(seed)
    x0 = torch.where(torch.rand(shape, generator=g) < 0.5, 1.0, -1.0)
    y_t = torch.where(torch.rand(shape, generator=g) < 0.7, x0, -x0)
    logits = 3 * torch.randn(shape, generator=g)
    t = torch.randint(1, t_max, (shape[0],), generator=g)
    return logits, y_t, x0, t


@test_case(points=0.75, hidden=True)
def test_bernoulli_kl_matches_oracle(binary_diffusion):
    """Property over p in [0, 1] (0 and 1 included) and q in (0, 1), float64 and float32."""
    import math

    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.diffusion_oracles import bernoulli_kl_oracle

    probs_p = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))
    probs_q = st.floats(1e-4, 1 - 1e-4)

    @settings(derandomize=True, deadline=None, database=None, max_examples=60, report_multiple_bugs=False)
    @given(p=st.lists(probs_p, min_size=1, max_size=6), q=st.lists(probs_q, min_size=6, max_size=6))
    def check(p, q):
        q = q[:len(p)]
        pt = torch.tensor(p, dtype=torch.float64)
        qt = torch.tensor(q, dtype=torch.float64)
        got = torch.as_tensor(binary_diffusion.bernoulli_kl(pt, qt))
        want = torch.as_tensor(bernoulli_kl_oracle(p, q))
        assert got.shape == want.shape, f"bernoulli_kl on ({len(p)},) inputs returned shape {tuple(got.shape)}."
        assert got.dtype == torch.float64, f"bernoulli_kl returned {got.dtype} for float64 inputs; keep the dtype."
        assert bool(torch.isfinite(got).all()), (
            f"bernoulli_kl(p={p}, q={q}) returned non-finite values {got.tolist()}: where p is 0 or 1 use "
            "0 * log 0 = 0 (torch.xlogy).")
        if not torch.allclose(got, want, rtol=1e-7, atol=1e-10):
            rev = torch.as_tensor(bernoulli_kl_oracle(q, [min(max(v, 1e-300), 1 - 1e-16) for v in p]))
            hint = ""
            if torch.allclose(got, rev, rtol=1e-6, atol=1e-9):
                hint = " It equals KL(Bern(q) || Bern(p)): the arguments are reversed."
            elif torch.allclose(got, torch.as_tensor([pi * math.log(max(pi, 1e-300) / qi) for pi, qi in zip(p, q)],
                                                    dtype=torch.float64), rtol=1e-6, atol=1e-9):
                hint = " Only the p log(p/q) term is there; add (1 - p) log((1 - p) / (1 - q))."
            raise AssertionError(f"bernoulli_kl(p={p}, q={q}) returned {got.tolist()}." + hint)

    p_in = torch.tensor([0.2, 0.7, 0.5, 0.05], dtype=torch.float64)    # interior values first
    q_in = torch.tensor([0.5, 0.1, 0.9, 0.6], dtype=torch.float64)
    got_in = torch.as_tensor(binary_diffusion.bernoulli_kl(p_in, q_in)).double()
    if not torch.allclose(got_in, torch.as_tensor(bernoulli_kl_oracle(p_in, q_in)), rtol=1e-7, atol=1e-10):
        reversed_ok = torch.allclose(got_in, torch.as_tensor(bernoulli_kl_oracle(q_in, p_in)), rtol=1e-6)
        raise AssertionError(
            f"bernoulli_kl(p={p_in.tolist()}, q={q_in.tolist()}) returned {got_in.tolist()}."
            + (" It equals KL(Bern(q) || Bern(p)): the arguments are reversed (p is the distribution the "
               "expectation is taken under)." if reversed_ok else ""))
    check()
    p = torch.tensor([0.0, 0.3, 1.0, 0.999], dtype=torch.float32)
    same = torch.as_tensor(binary_diffusion.bernoulli_kl(p.clamp(1e-3, 1 - 1e-3), p.clamp(1e-3, 1 - 1e-3)))
    assert same.dtype == torch.float32, f"bernoulli_kl returned {same.dtype} for float32 inputs; keep the dtype."
    assert bool((same.abs() < 1e-6).all()), f"bernoulli_kl(p, p) must be 0, got {same.tolist()}."
    q = torch.tensor([0.5, 0.9, 0.02, 0.4], dtype=torch.float32)
    pos = torch.as_tensor(binary_diffusion.bernoulli_kl(p, q))
    assert bool((pos >= -1e-6).all()), f"bernoulli_kl must be >= 0, got {pos.tolist()}."


@test_case(points=0.75, hidden=True)
@with_correct("binary_diffusion", "posterior_prob_plus", posterior_prob_plus_stand_in)
def test_loss_matches_oracle_per_example_t(binary_diffusion):
    """Loss on (B, C, H, W) images with per-example t equals the oracle (float64 and float32)."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import diffusion_loss_oracle

    for seed, shape, delta in ((1, (4, 1, 3, 3), 0.05), (2, (3, 2, 2, 5), 0.2), (3, (5, 5), 0.1)):
        logits, y_t, x0, t = _random_case(seed, shape)
        for dtype, tol in ((torch.float64, 1e-5), (torch.float32, 1e-4)):  # float32 powers of t are accepted
            got = binary_diffusion.diffusion_loss(logits.to(dtype), y_t.to(dtype), x0.to(dtype), t, delta)
            got = torch.as_tensor(got)
            assert got.dim() == 0, f"diffusion_loss returned shape {tuple(got.shape)}; expected a 0-dim tensor."
            assert got.dtype == dtype, f"diffusion_loss returned {got.dtype} for {dtype} logits; keep the dtype."
            want = diffusion_loss_oracle(logits, y_t, x0, t, delta)
            hint = ""
            m = x0[0].numel()
            single_t = [diffusion_loss_oracle(logits, y_t, x0, int(v), delta)
                        for v in (t[0], t.max(), t.min())]
            if abs(float(got) - want / m) <= tol * 10 + 1e-6 * abs(want):
                hint = " It equals the mean over pixels: sum the per-pixel KL over pixels."
            elif abs(float(got) - want * shape[0]) <= tol * 10 + 1e-6 * abs(want):
                hint = " It equals the sum over the batch: average over the batch (dim 0)."
            elif any(abs(float(got) - v) <= tol * 10 + 1e-6 * abs(want) for v in single_t):
                hint = " It equals the loss with one t for every example: each example must use its own t[b]."
            assert abs(float(got) - want) <= tol * max(1.0, abs(want)), (
                f"diffusion_loss on {dtype} inputs of shape {shape}, t = {t.tolist()}, delta = {delta} returned "
                f"{float(got):.6f}, which is not KL(posterior_prob_plus(y_t, x0, t, delta) || sigmoid(logits)) "
                "summed over pixels and averaged over the batch." + hint)


@test_case(points=0.5, hidden=True)
@with_correct("binary_diffusion", "posterior_prob_plus", posterior_prob_plus_stand_in)
def test_loss_at_t1_is_bce(binary_diffusion):
    """At t = 1 the loss equals binary cross-entropy against (1 + x0) / 2 (pixel sum, batch mean)."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import bce_sum_mean_oracle

    for seed, shape in ((5, (6, 10)), (6, (2, 3, 4, 4))):
        logits, y_t, x0, _ = _random_case(seed, shape)
        got = float(torch.as_tensor(binary_diffusion.diffusion_loss(logits.double(), y_t.double(), x0.double(), 1, 0.15)))
        want = bce_sum_mean_oracle(logits, x0)
        m = x0[0].numel()
        hint = ""
        if abs(got - want / m) <= 1e-6 * max(1.0, abs(want)):
            hint = " Your value is the mean over pixels: sum over pixels instead."
        elif abs(got - want * shape[0]) <= 1e-6 * max(1.0, abs(want)):
            hint = " Your value is the sum over the batch: average over the batch instead."
        assert abs(got - want) <= 1e-8 * max(1.0, abs(want)), (
            f"diffusion_loss at t = 1 (shape {shape}, delta = 0.15) returned {got:.6f}, but at t = 1 the target "
            "puts all its mass on x0, so the loss must equal the binary cross-entropy of sigmoid(logits) "
            "against (1 + x0) / 2, summed over pixels and averaged over the batch." + hint)


@test_case(points=0.5, hidden=True)
@with_correct("binary_diffusion", "posterior_prob_plus", posterior_prob_plus_stand_in)
def test_loss_gradient(binary_diffusion):
    """d loss / d logits = (sigmoid(logits) - target) / B, finite everywhere (targets 0 and 1 included)."""
    import torch

    from autograder.grading.testlib import grad_of
    from autograder.grading.testlib.diffusion_oracles import posterior_prob_plus_oracle

    for t in (1, torch.tensor([1, 4, 2, 9])):
        logits, y_t, x0, _ = _random_case(7, (4, 2, 6))
        logits, y_t, x0 = logits.double(), y_t.double(), x0.double()
        out, grads = grad_of(binary_diffusion.diffusion_loss, ["logits"], logits=logits, y_t=y_t, x0=x0, t=t, delta=0.1)
        g = grads["logits"]
        assert g is not None, (
            "no gradient reaches logits: the loss must be computed from logits with differentiable torch "
            "operations (no .item(), numpy or .detach() on the model's side).")
        assert bool(torch.isfinite(g).all()), (
            f"the gradient of diffusion_loss w.r.t. logits has nan/inf entries at t = {t}: where the target is "
            "exactly 0 or 1 avoid log(0) and 0 * log 0 in the graph (use torch.xlogy for the target's entropy "
            "and F.logsigmoid for the model).")
        t_list = t if isinstance(t, int) else t.tolist()
        target = torch.as_tensor(posterior_prob_plus_oracle(y_t, x0, t_list, 0.1))
        want = (torch.sigmoid(logits) - target) / logits.shape[0]
        assert torch.allclose(g.double(), want, atol=1e-6), (
            f"the gradient of diffusion_loss w.r.t. logits at t = {t} is not (sigmoid(logits) - target) / B; "
            "check the reduction (sum over pixels, mean over the batch), that the target is "
            "posterior_prob_plus(y_t, x0, t, delta) with each example's own t, and that the KL compares the "
            "target (first argument) with sigmoid(logits).")


@test_case(points=0.5, hidden=True)
@with_correct("binary_diffusion", "posterior_prob_plus", posterior_prob_plus_stand_in)
def test_loss_stable_for_large_logits(binary_diffusion):
    """Confident logits (|logit| up to 60 in float32, 800 in float64) give finite, correct losses."""
    import torch

    from autograder.grading.testlib.diffusion_oracles import diffusion_loss_oracle

    x0 = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    y_t = torch.tensor([[1.0, -1.0, -1.0, 1.0], [1.0, -1.0, -1.0, 1.0]])
    for dtype, big in ((torch.float32, 60.0), (torch.float64, 800.0)):
        for sign in (1.0, -1.0):
            logits = sign * big * x0                  # very confident, right (+) or wrong (-)
            for t in (1, 3):
                got = float(torch.as_tensor(binary_diffusion.diffusion_loss(logits.to(dtype), y_t.to(dtype),
                                                                            x0.to(dtype), t, 0.1)))
                want = diffusion_loss_oracle(logits, y_t, x0, t, 0.1)
                assert got == got and abs(got) != float("inf"), (
                    f"diffusion_loss returned {got} for {dtype} logits of size {big} at t = {t}: log(sigmoid(x)) "
                    "overflows for large |x|. Use F.logsigmoid(logits) and F.logsigmoid(-logits).")
                assert abs(got - want) <= 1e-4 * max(1.0, abs(want)), (
                    f"diffusion_loss with {dtype} logits of size {big} ({'right' if sign > 0 else 'wrong'} "
                    f"sign) at t = {t} returned {got:.4f}, expected about {want:.4f}. If the loss is right for "
                    "moderate logits (the other q1e tests), compute the log-probabilities from the logits with "
                    "F.logsigmoid(logits) and F.logsigmoid(-logits) rather than log(sigmoid(...)) or "
                    "log(1 - sigmoid(...)), which lose all precision once sigmoid rounds to 0 or 1.")

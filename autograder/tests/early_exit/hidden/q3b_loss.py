"""Q3b: early_exit_loss (hidden checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_loss"
points = None


@test_case(points=2, hidden=True)
def test_weighted_sum_of_cross_entropies(early_exit):
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.early_exit_oracles import early_exit_loss_oracle

    @settings(derandomize=True, deadline=None, database=None, max_examples=25)
    @given(K=st.integers(1, 4), B=st.integers(1, 6), C=st.integers(2, 6), seed=st.integers(0, 10**6),
           weights=st.one_of(st.none(), st.lists(st.floats(0.0, 3.0), min_size=4, max_size=4)),
           as_tensor=st.booleans())
    def check(K, B, C, seed, weights, as_tensor):
        g = torch.Generator().manual_seed(seed)
        logits = [torch.randn(B, C, generator=g, dtype=torch.float64) * 2 for _ in range(K)]
        y = torch.randint(0, C, (B,), generator=g)
        w = None if weights is None else weights[:K]
        w_arg = torch.tensor(w, dtype=torch.float64) if (as_tensor and w is not None) else w
        got = float(early_exit.early_exit_loss(logits, y, w_arg))
        want = early_exit_loss_oracle(logits, y, w)
        if abs(got - want) <= 1e-6 * max(1.0, abs(want)):
            return
        ww = [1.0] * K if w is None else w
        ces = [early_exit_loss_oracle([z], y) for z in logits]
        hint = "expected sum_k weights[k] * mean-over-batch CE of exit k"
        if abs(got - sum(ces)) < 1e-6:
            hint = "the weights are ignored"
        elif K > 1 and (abs(got - ces[-1] * ww[-1]) < 1e-6 or abs(got - ces[-1]) < 1e-6):
            hint = "only the last head enters the loss; every exit needs its own term"
        elif abs(got - B * want) < 1e-6 * B * max(1.0, abs(want)):
            hint = "cross-entropy summed over the batch; average it over the batch"
        elif abs(got - want / K) < 1e-6:
            hint = "the exits are averaged; sum them (with their weights)"
        raise AssertionError(f"early_exit_loss with K={K} exits, B={B}, weights={w_arg!r}: got "
                             f"{got:.6f}, expected {want:.6f}: {hint}")

    check()


@test_case(points=1, hidden=True)
def test_gradient_reaches_every_exit(early_exit):
    import torch

    from autograder.grading.testlib import grad_of
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)  # (K, B, C) stacked exits
    y = torch.randint(0, 5, (4,), generator=g)
    w = [0.5, 1.0, 2.0]
    _, grads = grad_of(early_exit.early_exit_loss, ["exit_logits"], exit_logits=logits, targets=y,
                       weights=w)
    gr = grads["exit_logits"]
    assert gr is not None, (
        "no gradient reaches the logits: keep the loss a tensor (no .item(), float() or numpy)")
    want = torch.softmax(logits, -1) - torch.nn.functional.one_hot(y, 5).double()
    want = want * torch.tensor(w, dtype=torch.float64)[:, None, None] / 4
    assert torch.allclose(gr.double(), want, atol=1e-8), (
        "the gradient of the loss w.r.t. exit k's logits should be weights[k] * (softmax - "
        "one_hot) / B; check the weights and the batch mean")

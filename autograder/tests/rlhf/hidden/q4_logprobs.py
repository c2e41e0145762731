"""Q4 sequence_log_probs (hidden): property checks against a loop oracle, gradients, dtype."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_logprobs"
points = None


def _diagnose(got, logits, labels):
    """Name the wrong variant that matches ``got``, if any."""
    import torch

    from autograder.grading.testlib import rlhf_oracles as O

    variants = [
        (dict(reduce="mean"), "you averaged over tokens instead of summing them"),
        (dict(shift=True), "the logits are shifted by one position (they are already aligned "
                           "with the labels)"),
        (dict(use_mask=False), "positions labelled -100 are counted (mask them out)"),
        (dict(dim=1), "log_softmax normalises over the sequence dimension instead of the "
                      "vocabulary (last) dimension"),
    ]
    for kw, words in variants:
        try:
            wrong = O.sequence_log_probs_oracle(logits, labels, **kw)
            if torch.allclose(got.double(), wrong, atol=1e-4):
                return words
        except Exception:  # noqa: BLE001 - a variant that cannot be computed just does not match
            pass
    return "compare with the sum over counted positions of log_softmax(logits, -1)[label]"


@test_case(points=2, hidden=True)
def test_matches_oracle_on_random_inputs(rlhf):
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib import rlhf_oracles as O

    @settings(derandomize=True, deadline=None, database=None, max_examples=40)
    @given(B=st.integers(1, 4), L=st.integers(1, 7), V=st.integers(2, 9),
           scale=st.sampled_from([0.1, 1.0, 8.0]), seed=st.integers(0, 2 ** 16),
           p_ignore=st.sampled_from([0.0, 0.3, 0.7]))
    def check(B, L, V, scale, seed, p_ignore):
        g = torch.Generator().manual_seed(seed)
        logits = scale * torch.randn(B, L, V, generator=g, dtype=torch.float64)
        labels = torch.randint(0, V, (B, L), generator=g)
        labels[torch.rand(B, L, generator=g) < p_ignore] = -100
        got = torch.as_tensor(rlhf.sequence_log_probs(logits, labels))
        want = O.sequence_log_probs_oracle(logits, labels)
        assert tuple(got.shape) == (B,), (
            f"for logits of shape {(B, L, V)} the result must have shape ({B},), "
            f"got {tuple(got.shape)}.")
        assert torch.allclose(got.double(), want, atol=1e-6, rtol=1e-6), (
            f"wrong value for B={B}, L={L}, V={V}, labels={labels.tolist()} "
            f"(logit scale {scale}): {_diagnose(got, logits, labels)}.")

    check()


@test_case(points=1, hidden=True)
def test_gradient_only_at_counted_positions(rlhf):
    import torch

    from autograder.grading.testlib import grad_of

    g = torch.Generator().manual_seed(11)
    logits = torch.randn(2, 5, 6, generator=g)
    labels = torch.tensor([[1, 2, 3, -100, -100], [0, -100, 5, 4, -100]])
    _, grads = grad_of(rlhf.sequence_log_probs, ["logits"], logits=logits, labels=labels)
    gl = grads["logits"]
    assert gl is not None, ("no gradient reached the logits: sequence_log_probs must stay "
                            "differentiable (do not detach, do not convert to Python numbers).")
    gl = torch.as_tensor(gl)
    ignored = labels == -100
    assert float(gl[ignored].abs().max()) < 1e-7, (
        "the result depends on logits at positions labelled -100; those positions must not count.")
    # d/dlogits of log_softmax[y] is onehot(y) - softmax at every counted position
    p = torch.softmax(logits, -1)
    want = -p
    for b in range(2):
        for i in range(5):
            if not ignored[b, i]:
                want[b, i, labels[b, i]] += 1.0
    want[ignored] = 0.0
    assert torch.allclose(gl, want, atol=1e-5), (
        "the gradient with respect to the logits is not onehot(label) - softmax(logits) at the "
        "counted positions: check that you use log_softmax over the last dimension and a plain sum.")


@test_case(points=1, hidden=True)
def test_keeps_dtype_and_handles_large_logits(rlhf):
    import torch

    from autograder.grading.testlib import rlhf_oracles as O

    logits = torch.tensor([[[1000.0, -1000.0, 0.0], [0.0, 1e4, -1e4]]], dtype=torch.float64)
    labels = torch.tensor([[0, 2]])
    got = torch.as_tensor(rlhf.sequence_log_probs(logits, labels))
    assert got.dtype == torch.float64, (
        f"float64 logits gave a {got.dtype} result; keep the input's floating dtype.")
    want = O.sequence_log_probs_oracle(logits, labels)
    assert bool(torch.isfinite(got).all()) and torch.allclose(got, want, rtol=1e-9), (
        f"with logits of size 1e4 the result is {got.tolist()}, expected {want.tolist()}: "
        "compute log_softmax directly rather than log(softmax(...)), which underflows.")

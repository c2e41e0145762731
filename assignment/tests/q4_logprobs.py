"""Q4 sequence_log_probs: sum of token log-probabilities over the counted positions (public)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_logprobs"
points = None


def _expected(logits, labels):
    """Loop over the counted positions; float64."""
    import torch

    out = torch.zeros(labels.shape[0], dtype=torch.float64)
    for b in range(labels.shape[0]):
        for i in range(labels.shape[1]):
            y = int(labels[b, i])
            if y != -100:
                row = logits[b, i].double()
                out[b] += row[y] - torch.logsumexp(row, 0)
    return out


MASK_HINT = ("Labels of -100 mark positions that do not count; -100 is not a token id. Replace it "
             "by a valid id (e.g. 0) before gathering, then zero those positions' "
             "log-probabilities.")


def _log_probs(rlhf, logits, labels):
    """rlhf.sequence_log_probs(logits, labels); an error that -100 caused says what -100 means."""
    try:
        return rlhf.sequence_log_probs(logits, labels)
    except Exception as e:
        if "-100" in str(e):
            e.add_note(MASK_HINT)
        raise


def _example():
    import torch

    g = torch.Generator().manual_seed(1234)
    logits = torch.randn(3, 5, 7, generator=g)
    labels = torch.tensor([[4, 0, 6, 1, -100],
                           [2, 2, -100, -100, -100],
                           [5, 3, 1, 0, 6]])
    return logits, labels


@test_case(points=1, hidden=False)
def test_shape_and_values(rlhf):
    import torch

    logits, labels = _example()
    got = _log_probs(rlhf, logits, labels)
    assert isinstance(got, torch.Tensor), (
        f"sequence_log_probs returned {type(got).__name__}; return a tensor of shape (B,).")
    got = torch.as_tensor(got)
    assert tuple(got.shape) == (3,), (
        f"sequence_log_probs(logits (3, 5, 7), labels (3, 5)) has shape {tuple(got.shape)}; "
        "expected (3,): one summed log-probability per sequence.")
    want = _expected(logits, labels)
    if torch.allclose(got.double(), want, atol=1e-4):
        return
    counts = (labels != -100).sum(1).double()
    hints = []
    if torch.allclose(got.double(), want / counts, atol=1e-4):
        hints.append("you averaged over tokens; Q4 uses the sum over the sequence's tokens")
    lp = torch.log_softmax(logits.double(), -1)
    shifted = torch.zeros(3, dtype=torch.float64)
    for b in range(3):
        for i in range(1, 5):
            if int(labels[b, i]) != -100:
                shifted[b] += lp[b, i - 1, int(labels[b, i])]
    if torch.allclose(got.double(), shifted, atol=1e-4):
        hints.append("the logits are shifted by one position; they are already aligned with the "
                     "labels, so do not shift")
    wrong_dim = torch.log_softmax(logits.double(), 1)
    if torch.allclose(got.double(), torch.stack([
            sum((wrong_dim[b, i, int(labels[b, i])] for i in range(5) if int(labels[b, i]) != -100),
                torch.tensor(0.0, dtype=torch.float64)) for b in range(3)]), atol=1e-4):
        hints.append("log_softmax is taken over the sequence dimension; normalise over the "
                     "vocabulary (last) dimension")
    raise AssertionError(
        f"sequence_log_probs returned {got.tolist()}, expected {want.tolist()} "
        "(sum over counted positions of log softmax(logits)[label]). "
        + ("; ".join(hints) + "." if hints else
           "Check that positions with label -100 are skipped and that you sum, not average."))


@test_case(points=1, hidden=False)
def test_ignored_positions_do_not_count(rlhf):
    import torch

    logits, labels = _example()
    base = torch.as_tensor(_log_probs(rlhf, logits, labels)).double()
    noisy = logits.clone()
    noisy[labels == -100] += 50.0 * torch.randn(noisy[labels == -100].shape,
                                                generator=torch.Generator().manual_seed(7))
    moved = torch.as_tensor(_log_probs(rlhf, noisy, labels)).double()
    assert torch.allclose(base, moved, atol=1e-4), (
        "changing the logits at positions whose label is -100 changed the result "
        f"({base.tolist()} -> {moved.tolist()}): ignored positions must not count (mask them out).")
    empty = torch.full((2, 4), -100)
    got = torch.as_tensor(_log_probs(rlhf, torch.randn(2, 4, 7), empty))
    assert tuple(got.shape) == (2,) and bool(torch.isfinite(got).all()) and \
        float(got.abs().max()) < 1e-6, (
        f"a sequence whose labels are all -100 gave {got.tolist()}; it has no counted tokens, so "
        "its log-probability is 0 (an empty sum). NaN here usually means dividing by the count.")


@test_case(points=1, hidden=False)
def test_sum_not_mean_and_no_shift(rlhf):
    import math

    import torch

    # Position i puts probability 0.9 on token i (V = 10); the label at position i is i.
    V, L = 10, 6
    p_hit = 0.9
    logits = torch.full((1, L, V), math.log((1 - p_hit) / (V - 1)))
    for i in range(L):
        logits[0, i, i] = math.log(p_hit)
    labels = torch.arange(L).unsqueeze(0)
    got = float(torch.as_tensor(_log_probs(rlhf, logits, labels))[0])
    want = L * math.log(p_hit)
    assert abs(got - want) < 1e-4, (
        f"with each of the {L} labels given probability 0.9 the sequence log-probability is "
        f"{L} * log 0.9 = {want:.4f}, got {got:.4f}. "
        + ("That is the per-token mean; sum over tokens instead."
           if abs(got - want / L) < 1e-4 else
           "A much smaller value means the logits were shifted against the labels (they are "
           "already aligned) or the wrong entries were gathered."))

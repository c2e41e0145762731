"""Q3b: EarlyExitResNet.forward / predict contract (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_model"
points = None


def _setup(early_exit, n=12, seed=0):
    import math

    import torch
    model = early_exit.EarlyExitResNet(num_classes=10, widths=(4, 8, 16), blocks_per_stage=1)
    model.eval()
    g = torch.Generator().manual_seed(seed)
    scale = torch.exp(torch.empty(n).uniform_(math.log(3.0), math.log(60.0), generator=g))
    x = torch.randn(n, 3, 32, 32, generator=g) * scale[:, None, None, None]
    return model, x


@test_case(points=1, hidden=False)
def test_predict_returns_three_tensors_of_shape_B(early_exit):
    import torch
    model, x = _setup(early_exit)
    exits = model.forward(x)   # given: the logits of every exit, each (B, num_classes)
    assert isinstance(exits, (list, tuple)) and len(exits) == 3 == int(model.num_exits), (
        "forward must return a list with the logits of every exit (3 stages -> 3 exits); "
        "it is given code: restore it from the handout if you changed it")
    out = model.predict(x, 0.5)
    assert isinstance(out, tuple) and len(out) == 3, (
        "predict must return the tuple (predictions, exit_index, confidence)")
    pred, exit_index, conf = out
    for name_, v in [("predictions", pred), ("exit_index", exit_index), ("confidence", conf)]:
        assert isinstance(v, torch.Tensor) and tuple(v.shape) == (12,), (
            f"{name_} should be a tensor of shape (B,) = (12,), got {getattr(v, 'shape', type(v))}")
    assert pred.dtype == torch.int64 and exit_index.dtype == torch.int64, (
        "predictions and exit_index must be int64 (long) tensors")
    assert conf.is_floating_point(), "confidence must be a floating tensor"
    assert bool(((exit_index >= 0) & (exit_index <= 2)).all()), (
        f"exit_index must count exits from 0 to num_exits-1 = 2, got {exit_index.tolist()}")
    assert bool(((conf > 0) & (conf <= 1 + 1e-6)).all()), (
        "confidence must be a max softmax probability in (0, 1]; did you return a logit?")
    assert bool(((pred >= 0) & (pred < 10)).all()), "predictions must be class indices in 0..9"


@test_case(points=1, hidden=False)
def test_threshold_zero_and_above_one(early_exit):
    import torch
    model, x = _setup(early_exit)
    logits = model.forward(x)
    p0, e0, c0 = model.predict(x, 0.0)
    assert bool((e0 == 0).all()), (
        f"with threshold 0 every example must leave at exit 0, got exit_index {e0.tolist()} "
        "(compare confidence >= threshold; count exits from 0)")
    want = torch.softmax(logits[0].double(), -1).max(-1)
    assert torch.equal(p0, want.indices), "with threshold 0 predictions must be exit 0's argmax"
    from_final = torch.allclose(c0.double(), torch.softmax(logits[-1].double(), -1).max(-1).values,
                                atol=1e-4)
    assert torch.allclose(c0.double(), want.values, atol=1e-4), (
        "with threshold 0 confidence must be exit 0's max softmax probability "
        + ("(it is the final head's: report the confidence of the head each example leaves at)"
           if from_final else "(max logit used instead of max softmax probability?)"))
    p2, e2, c2 = model.predict(x, 1.5)
    assert bool((e2 == 2).all()), (
        f"with threshold 1.5 no exit is confident enough, so every example must reach the final "
        f"exit 2, got {e2.tolist()} (is the last head forced to answer?)")
    final = torch.softmax(logits[-1].double(), -1).max(-1)
    assert torch.equal(p2, final.indices), (
        "with threshold above 1, predictions must equal the full model's argmax")
    assert torch.allclose(c2.double(), final.values, atol=1e-4), (
        "with threshold above 1, confidence must be the final head's max softmax probability")

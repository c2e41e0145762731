"""Q3b: evaluate_early_exit (hidden checks: agreement with predict and count_macs).

evaluate_early_exit calls predict (q3b_model) and count_macs (q3b_macs). Both tests run it with the
grader's predict in place of the student's (predict_stand_in, which also refuses a model left in
training mode); its MAC figures are compared with the student's own count_macs, so that callee's
value cannot matter.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_eval"
points = None


def _expected(early_exit, model, loader, t):
    import torch

    from autograder.grading.testlib.early_exit_oracles import evaluate_early_exit_oracle
    outs = [model.predict(x, t) for x, _ in loader]
    preds, exits, confs = (torch.cat(v) for v in zip(*outs))
    labels = torch.cat([y for _, y in loader])
    cum = [float(early_exit.count_macs(model.exits_up_to(i), loader[0][0])) for i in range(3)]
    return evaluate_early_exit_oracle(preds, exits, confs, labels, 3, cum), cum


def _compare(got, want, cum, t):
    import math
    assert isinstance(got, dict), "evaluate_early_exit must return a dict"
    frac = [float(v) for v in got["exit_fraction"]]
    assert len(frac) == 3 and all(abs(a - b) < 1e-9 for a, b in zip(frac, want["exit_fraction"])), (
        f"threshold {t:.4f}: exit_fraction {frac} but predict sends {want['exit_fraction']} of "
        "the examples to each exit (count over all batches, divide by the number of examples)")
    for key in ("accuracy", "early_exit_rate", "confidence_early", "confidence_full"):
        g, w = float(got[key]), want[key]
        if math.isnan(w):
            assert math.isnan(g), f"threshold {t:.4f}: {key} should be nan (no such examples)"
            continue
        hint = ""
        if key.startswith("confidence") and abs(g - want["confidence_early" if key.endswith("full")
                                                          else "confidence_full"]) < 1e-6:
            hint = " (confidence_early and confidence_full swapped?)"
        assert abs(g - w) < 1e-6, f"threshold {t:.4f}: {key} = {g:.6f}, expected {w:.6f}{hint}"
    g, w = float(got["mac_ratio"]), want["mac_ratio"]
    if abs(g - w) >= 1e-6:
        own = sum(f * m for f, m in zip(want["exit_fraction"],
                                       [cum[0], cum[1] - cum[0], cum[2] - cum[1]])) / cum[2]
        hint = ("; it weights each exit's own stage cost, but an example leaving at exit i paid "
                "for everything up to exit i (cumulative MACs)" if abs(g - own) < 1e-6 else "")
        raise AssertionError(f"threshold {t:.4f}: mac_ratio = {g:.6f}, expected "
                             f"sum_i exit_fraction[i] * cumulative_macs[i] / full MACs = {w:.6f}{hint}")


@test_case(points=2, hidden=True)
def test_summary_agrees_with_predict_and_macs(early_exit, substituted):
    import torch

    from autograder.grading.testlib.early_exit_oracles import (
        predict_stand_in,
        spread_inputs,
        thresholds_between,
    )
    model = early_exit.EarlyExitResNet(num_classes=10, widths=(4, 8, 16), blocks_per_stage=1)
    model.eval()
    x = spread_inputs(36, seed=31)
    y = torch.randint(0, 10, (36,), generator=torch.Generator().manual_seed(32))
    loader = [(x[:16], y[:16]), (x[16:30], y[16:30]), (x[30:], y[30:])]   # unequal batches
    thresholds = thresholds_between(model.forward(x)) + [0.0, 2.0]
    correct = predict_stand_in(model, [b for b, _ in loader], thresholds)
    with substituted(early_exit, "EarlyExitResNet.predict", correct):
        for t in thresholds:
            want, cum = _expected(early_exit, model, loader, t)
            _compare(early_exit.evaluate_early_exit(model, loader, t), want, cum, t)


@test_case(points=1, hidden=True)
def test_eval_mode_during_evaluation(early_exit, substituted):
    import torch

    from autograder.grading.testlib.early_exit_oracles import (
        predict_stand_in,
        spread_inputs,
        thresholds_between,
    )
    model = early_exit.EarlyExitResNet(num_classes=10, widths=(4, 8, 16), blocks_per_stage=1)
    model.eval()
    x = spread_inputs(24, seed=41)
    y = torch.randint(0, 10, (24,), generator=torch.Generator().manual_seed(42))
    loader = [(x[:12], y[:12]), (x[12:], y[12:])]
    t = thresholds_between(model.forward(x), quantiles=(0.5,))[0]
    correct = predict_stand_in(model, [b for b, _ in loader], [t])  # refuses a model in train mode
    with substituted(early_exit, "EarlyExitResNet.predict", correct):
        want, cum = _expected(early_exit, model, loader, t)
        model.train()
        got = early_exit.evaluate_early_exit(model, loader, t)
    assert model.training is True, (
        "evaluate_early_exit must restore the model's train/eval mode when it is done")
    try:
        _compare(got, want, cum, t)
    except AssertionError as e:
        raise AssertionError(f"{e}. The model was in training mode when evaluate_early_exit was "
                             "called: switch it to eval mode (BatchNorm!) for the evaluation") from None

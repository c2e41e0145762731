"""Q3b: evaluate_early_exit (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_eval"
points = None

KEYS = ("accuracy", "exit_fraction", "early_exit_rate", "confidence_early", "confidence_full",
        "mac_ratio")


def _setup(early_exit):
    import torch
    model = early_exit.EarlyExitResNet(num_classes=10, widths=(4, 8, 16), blocks_per_stage=1)
    model.eval()
    g = torch.Generator().manual_seed(1)
    loader = [(torch.randn(8, 3, 32, 32, generator=g) * 20, torch.randint(0, 10, (8,), generator=g))
              for _ in range(2)]
    return model, loader


def _predict_at_0_and_2(model, loader):
    """predict's answers for this loader at threshold 0 (every example leaves at exit 0) and 2
    (every example reaches the final exit), from the model's exit logits: evaluate_early_exit runs
    with them in place of your predict, so that q3b_eval is checked on its own."""
    import torch

    answers = {}
    for i, (x, _) in enumerate(loader):
        logits = model.forward(x)
        for threshold, k in ((0.0, 0), (2.0, len(logits) - 1)):
            conf, pred = torch.softmax(logits[k], -1).max(-1)
            answers[i, threshold] = (pred, torch.full_like(pred, k), conf)

    def predict(instance, x, threshold):
        i = [i for i, (known, _) in enumerate(loader) if torch.equal(known, x.cpu())][0]
        return answers[i, float(threshold)]

    return predict


@test_case(points=1, hidden=False)
def test_result_keys_and_extreme_thresholds(early_exit, substituted):
    import math
    model, loader = _setup(early_exit)
    with substituted(early_exit, "EarlyExitResNet.predict", _predict_at_0_and_2(model, loader)):
        r = early_exit.evaluate_early_exit(model, loader, 0.0)
        r2 = early_exit.evaluate_early_exit(model, loader, 2.0)
    assert isinstance(r, dict), "evaluate_early_exit must return a dict"
    missing = [k for k in KEYS if k not in r]
    assert not missing, f"evaluate_early_exit's dict lacks {missing}"
    frac = [float(v) for v in r["exit_fraction"]]
    assert len(frac) == 3 and abs(sum(frac) - 1) < 1e-6, (
        f"exit_fraction must list one fraction per exit summing to 1, got {frac}")
    assert frac[0] > 1 - 1e-9 and abs(float(r["early_exit_rate"]) - 1) < 1e-9, (
        "with threshold 0 every example leaves at exit 0: exit_fraction[0] and early_exit_rate "
        f"must be 1, got {frac} and {r['early_exit_rate']}")
    x = loader[0][0]
    cum = [float(early_exit.count_macs(model.exits_up_to(i), x)) for i in range(3)]
    assert abs(float(r["mac_ratio"]) - cum[0] / cum[-1]) < 1e-6, (
        f"with threshold 0 the MAC ratio must be exit 0's cumulative MACs over the full model's, "
        f"{cum[0] / cum[-1]:.5f}, got {float(r['mac_ratio']):.5f}")
    r = r2
    assert abs(float(r["mac_ratio"]) - 1) < 1e-6 and abs(float(r["early_exit_rate"])) < 1e-9, (
        "with threshold 2 every example reaches the final exit: mac_ratio must be 1 and "
        f"early_exit_rate 0, got {float(r['mac_ratio'])} and {float(r['early_exit_rate'])}")
    assert math.isnan(float(r["confidence_early"])), (
        "confidence_early must be nan when no example leaves early")
    assert 0 <= float(r["accuracy"]) <= 1, "accuracy must be a fraction in [0, 1]"

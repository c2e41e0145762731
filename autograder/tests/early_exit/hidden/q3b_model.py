"""Q3b: EarlyExitResNet.predict (hidden checks: per-example rule, batch independence, work done)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_model"
points = None


def _model(early_exit, widths=(4, 8, 16)):
    model = early_exit.EarlyExitResNet(num_classes=10, widths=widths, blocks_per_stage=1)
    model.eval()
    return model


@test_case(points=2, hidden=True)
def test_predict_follows_the_exit_rule(early_exit):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.early_exit_oracles import (
        diagnose_predict,
        spread_inputs,
        thresholds_between,
    )
    model = _model(early_exit)
    x = spread_inputs(40, seed=11)
    logits = model.forward(x)
    for t in thresholds_between(logits) + [0.0, 0.999999, 1.5]:
        msg = diagnose_predict(*model.predict(x, t), logits, t)
        assert msg is None, msg

    @settings(derandomize=True, deadline=None, database=None, max_examples=15)
    @given(st.floats(0.05, 0.99))
    def check(t):
        msg = diagnose_predict(*model.predict(x, t), logits, t)
        assert msg is None, f"threshold {t!r}: {msg}"

    check()


@test_case(points=2, hidden=True)
def test_batch_composition_does_not_matter(early_exit):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib.early_exit_oracles import (
        predict_oracle,
        spread_inputs,
        thresholds_between,
    )
    model = _model(early_exit)
    pool = spread_inputs(16, seed=23)
    logits = model.forward(pool)
    t = thresholds_between(logits, quantiles=(0.5,))[0]
    *_, margin = predict_oracle(logits, t)
    alone = [model.predict(pool[j:j + 1], t) for j in range(16)]

    @settings(derandomize=True, deadline=None, database=None, max_examples=12)
    @given(st.lists(st.integers(0, 15), min_size=2, max_size=12, unique=True))
    def check(members):
        p, e, c = model.predict(pool[members], t)
        for pos, j in enumerate(members):
            if float(margin[j]) < 1e-4:
                continue
            pj, ej, cj = (v[0] for v in alone[j])
            assert int(e[pos]) == int(ej) and int(p[pos]) == int(pj), (
                f"example {j} leaves at exit {int(ej)} (class {int(pj)}) when predicted alone but at "
                f"exit {int(e[pos])} (class {int(p[pos])}) in the batch {members} at threshold "
                f"{t:.4f}: exit decided per batch, not per example")
            assert abs(float(c[pos]) - float(cj)) < 1e-4, (
                f"example {j}'s confidence changes with the batch it is in ({float(cj):.5f} alone, "
                f"{float(c[pos]):.5f} in {members})")

    check()


@test_case(points=2, hidden=True)
def test_later_stages_see_only_running_examples(early_exit):
    import torch

    from autograder.grading.testlib.early_exit_oracles import spread_inputs, thresholds_between
    model = _model(early_exit)
    x = spread_inputs(40, seed=5)
    for t in thresholds_between(model.forward(x), quantiles=(0.3, 0.7)):
        model.reset_stage_counts()
        _, e, _ = model.predict(x, t)
        counts = [int(v) for v in model.stage_counts()]
        want = [int((e >= s).sum()) for s in range(len(counts))]
        assert counts == want, (
            f"at threshold {t:.4f} the exits were {torch.bincount(e, minlength=3).tolist()} "
            f"(examples per exit), so stages 0, 1, 2 should process {want} examples, but they "
            f"processed {counts}: predict computed later blocks for examples that had already "
            "left (run each stage only on the still-running examples, selected by index)")

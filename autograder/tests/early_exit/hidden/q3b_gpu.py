"""Q3b (GPU tier): your early-exit inference on the grading device.

The GPU tier grades only what the device adds. What ``predict``, ``early_exit_loss``,
``count_macs`` and ``evaluate_early_exit`` compute is graded on the CPU (q3b_model, q3b_loss,
q3b_macs, q3b_eval), so a mistake there is not charged again here (each question on its own):

1. The grader trains a reference network with the given training code and the correct early-exit
   loss, for a fixed number of epochs on the device (none of your code runs), and loads its weights
   into your ``EarlyExitResNet``.
2. Your ``predict`` on device inputs keeps its outputs on that device and gives the same exits and
   predictions as your ``predict`` on the CPU (on at least 99% of the examples: floating-point
   differences between devices may move a confidence across the threshold).
3. Early exit saves wall-clock time on the device in proportion to the work your ``predict`` skips:
   the promised saving is computed from your own predict's stage counts (the examples each stage
   processed), so a predict that skips no work is promised no saving here (q3b_model grades that).
   Two timings taken in the same run, interleaved, are compared as a ratio with a wide margin;
   nothing depends on the machine's speed. Only on CUDA: CPU machines are shared and noisy.

A ``predict`` that is not implemented scores zero here. One that raises, hangs or crashes on the CPU
is graded by q3b_model, not here.

With ``device == "cuda"`` this is the full check. With ``device == "cpu"`` the same logic runs at a
reduced size on easier data (a few seconds), so CI exercises it without a GPU.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_gpu"
points = None

# size and training per device (the training is the grader's, with the given code)
SETTINGS = {
    "cuda": dict(n_train=20000, n_val=4096, max_difficulty=1.0, widths=(16, 32, 64), blocks=2,
                 epochs=8, batch=128, eval_batch=1024, lr=0.1, threshold=0.5, saving_share=0.1,
                 timing_rounds=9),
    "cpu": dict(n_train=1500, n_val=1024, max_difficulty=0.4, widths=(8, 16, 32), blocks=1,
                epochs=3, batch=64, eval_batch=256, lr=0.05, threshold=0.5, saving_share=0.1,
                timing_rounds=9),
}
MIN_AGREEMENT = 0.99  # share of examples whose exit and prediction match between device and CPU


def _exit_loss(exit_logits, targets, weights=None):
    """The correct early-exit loss (differentiable): sum over exits of w_k * mean cross-entropy."""
    import torch.nn.functional as F

    w = [1.0] * len(exit_logits) if weights is None else list(weights)
    return sum(wk * F.cross_entropy(z, targets) for wk, z in zip(w, exit_logits))


_SETTING: dict = {}  # device -> (validation images, weights, network): built once per grading process


def _setting(s, device):
    """Validation images (n_val, 3, 32, 32), and the weights (a state dict) and network of a
    MultiExitResNet (given code) trained by the grader with the correct loss, on the CPU."""
    import torch

    from autograder.grading.testlib.early_exit_oracles import shapes10
    if str(device) not in _SETTING:
        g = torch.Generator().manual_seed(2024)
        xtr, ytr, _ = shapes10(s["n_train"], seed=101,
                               difficulty=torch.rand(s["n_train"], generator=g) * s["max_difficulty"])
        xva, _, _ = shapes10(s["n_val"], seed=102,
                             difficulty=torch.rand(s["n_val"], generator=g) * s["max_difficulty"])
        ref = _reference_model(s, device, xtr, ytr)
        _SETTING[str(device)] = (xva, {k: v.detach().clone() for k, v in ref.state_dict().items()}, ref)
    return _SETTING[str(device)]


def _reference_model(s, device, xtr, ytr):
    """A MultiExitResNet (given code) trained by the grader with the correct loss; on the CPU."""
    from hw12 import early_exit_models, early_exit_training  # the release's given code

    ref = early_exit_models.MultiExitResNet(num_classes=10, widths=s["widths"],
                                            blocks_per_stage=s["blocks"])
    early_exit_training.train(
        ref, early_exit_training.Batches(xtr, ytr, s["batch"], device=device, shuffle=True, seed=0),
        {"device": str(device), "epochs": s["epochs"], "lr": s["lr"], "progress": False,
         "max_train_seconds": 0, "seed": 0},  # 0: no wall-clock cap, a fixed number of steps
        exit_loss=_exit_loss)
    return ref.cpu().eval()


def _stage_macs(ref, x1):
    """MACs of stage i with its head, for one example: cumulative MACs of exit i minus exit i-1."""
    from torch.utils.flop_counter import FlopCounterMode

    cumulative = []
    for i in range(ref.num_exits):
        with FlopCounterMode(display=False) as counter:
            ref.exits_up_to(i)(x1)
        cumulative.append(counter.get_total_flops() / 2)
    return [c - (cumulative[i - 1] if i else 0.0) for i, c in enumerate(cumulative)]


def _interleaved_best_seconds(fns, rounds):
    """Fastest of ``rounds`` timings of each function, the functions alternating round by round, so
    that a busy moment on a shared device slows every function alike instead of one of them."""
    import time
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


@test_case(points=4, hidden=True)
def test_predict_on_the_device(early_exit, device):
    import torch

    from autograder.grading.testlib import FailsOnCpu, on_the_cpu_first

    on_cuda = str(device).startswith("cuda")
    s = SETTINGS["cuda" if on_cuda else "cpu"]
    xva, state, ref = _setting(s, device)

    def student_model(where):
        model = early_exit.EarlyExitResNet(num_classes=10, widths=s["widths"],
                                           blocks_per_stage=s["blocks"])
        model.load_state_dict(state)
        model.to(where)
        model.eval()
        return model

    cpu_model, dev_model = student_model("cpu"), student_model(device)
    thr = s["threshold"]
    try:
        p_cpu, e_cpu, _ = on_the_cpu_first(lambda: cpu_model.predict(xva, thr))
    except FailsOnCpu:
        return  # q3b_model charges it, not the device tier
    x = xva.to(device)
    p, e, c = dev_model.predict(x, thr)
    for name_, v in (("predictions", p), ("exit_index", e), ("confidence", c)):
        assert isinstance(v, torch.Tensor) and v.device.type == torch.device(device).type, (
            f"predict on {device} inputs returned {name_} on "
            f"{getattr(v, 'device', type(v).__name__)}; keep outputs on x's device")
    same = ((torch.as_tensor(p).cpu() == torch.as_tensor(p_cpu))
            & (torch.as_tensor(e).cpu() == torch.as_tensor(e_cpu))).double().mean().item()
    assert same >= MIN_AGREEMENT, (
        f"predict on {device} agrees with your predict on the CPU (same model, same images, "
        f"threshold {thr}) on {same:.1%} of the examples (at least {MIN_AGREEMENT:.0%} required): "
        "something in predict depends on the device (a tensor created on the CPU, a dtype that "
        "differs between devices, an in-place update of a shared buffer).")
    if not on_cuda:
        return  # wall-clock timing only on the GPU box (CPU CI machines are shared and noisy)

    # Wall-clock saving promised by the work your predict skipped, from its own stage counts.
    stage_macs = _stage_macs(ref, xva[:1])
    val = [xva[i:i + s["eval_batch"]].to(device) for i in range(0, s["n_val"], s["eval_batch"])]
    dev_model.reset_stage_counts()
    for xb in val:
        dev_model.predict(xb, thr)
    counts = [int(v) for v in dev_model.stage_counts()]
    work = sum(n * m for n, m in zip(counts, stage_macs)) / (s["n_val"] * sum(stage_macs))

    def timed(t):
        def run():
            for xb in val:
                dev_model.predict(xb, t)
            torch.cuda.synchronize()
        return run
    for t in (thr, 2.0):  # warm-up (allocator, kernel selection)
        timed(t)()
    early_s, full_s = _interleaved_best_seconds([timed(thr), timed(2.0)], s["timing_rounds"])
    realised = early_s / max(full_s, 1e-9)
    allowed = 1.0 - s["saving_share"] * (1.0 - work)
    assert realised <= allowed, (
        f"early-exit inference took {realised:.2f} of the full model's time on {device} although "
        f"your predict's stages did only {work:.2f} of the full model's work: does predict move "
        "data between devices, or wait for the device (.item(), .cpu(), printing) inside its loop?")

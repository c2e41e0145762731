"""Does early exit save the time its MAC ratio promises? CPU batch-inference benchmark (Q3b).

    python benchmarks/early_exit_speedup.py [--threads 1] [--epochs 3] [--n-train 10000]
                                            [--n-val 2000] [--batch 500] [--repeats 7]
                                            [--package-dir solutions]

Trains the reference-size EarlyExitResNet (widths 16/32/64, two blocks per stage) briefly on the
generated shapes10 data, then for several thresholds times ``predict`` over the validation set and
compares the realised speed-up over the full model (threshold 2: every example runs every stage
and head) with the speed-up the MAC ratio predicts (1 / mac_ratio, from ``evaluate_early_exit``).

    efficiency = realised speed-up / predicted speed-up

The issue's requirement is efficiency >= 0.9 at the notebook's threshold (0.5); the script exits
with status 1 when that fails. By default model and images are channels_last (NHWC), the faster
CPU layout; with ``--memory-format contiguous`` (NCHW) the first stage's small-channel convolutions
and element-wise layers take a larger share of the time than of the MACs, so early exits save less
than the MAC ratio predicts. Each threshold's passes alternate with full-model passes (``--repeats`` of each, after a warm-up);
the medians are compared.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def paired_seconds(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median seconds of fn_a and of fn_b, timed alternately (a, b, a, b, ...) after one warm-up
    call of each, so that drifts of the machine's speed affect both alike."""
    fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def stage_shares(ee, model, x, repeats: int) -> tuple[list, list]:
    """(time share, MAC share) of each exit's own part (stage i and head i; the stem counts with
    exit 0) in one full pass over the batch x."""
    import torch

    def pieces():
        times, h = [], x
        with torch.inference_mode():
            for i in range(model.num_exits):
                t0 = time.perf_counter()
                h = model.stem(h) if i == 0 else h
                h = model.stages[i](h)
                model.heads[i](h)
                times.append(time.perf_counter() - t0)
        return times

    pieces()
    runs = [pieces() for _ in range(repeats)]
    med = [statistics.median(r[i] for r in runs) for i in range(model.num_exits)]
    cum = [ee.count_macs(model.exits_up_to(i), x[:2]) for i in range(model.num_exits)]
    own = [b - a for a, b in zip([0.0] + cum, cum)]
    return [t / sum(med) for t in med], [m / cum[-1] for m in own]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--n-val", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--thresholds", default="0.3,0.5,0.7,0.9")
    ap.add_argument("--memory-format", choices=["channels_last", "contiguous"],
                    default="channels_last",
                    help="layout of the model and the images at inference (NHWC or NCHW)")
    ap.add_argument("--package-dir", default=str(ROOT / "solutions"))
    args = ap.parse_args(argv)

    sys.path.insert(0, args.package_dir)
    import torch

    from hw12 import early_exit as ee
    from hw12 import early_exit_data as data

    torch.set_num_threads(args.threads)
    x_tr, y_tr, _ = data.make_shapes10(args.n_train, seed=0)
    x_va, y_va, _ = data.make_shapes10(args.n_val, seed=1)
    torch.manual_seed(0)
    model = ee.EarlyExitResNet(widths=(16, 32, 64), blocks_per_stage=2)
    t0 = time.perf_counter()
    ee.train(model, ee.Batches(x_tr, y_tr, 128, shuffle=True, seed=0),
             {"device": "cpu", "epochs": args.epochs, "progress": False, "max_train_seconds": 0})
    train_s = time.perf_counter() - t0
    model.eval()
    fmt = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}[args.memory_format]
    model.to(memory_format=fmt)
    val = ee.Batches(x_va.contiguous(memory_format=fmt), y_va, args.batch)

    def run(threshold: float) -> None:
        for x, _ in val:
            model.predict(x, threshold)

    print(f"torch {torch.__version__}, {args.threads} thread(s); trained {args.epochs} epochs on "
          f"{args.n_train} images in {train_s:.0f} s; {args.n_val} validation images in batches "
          f"of {args.batch}, {args.memory_format}")
    print("threshold  accuracy  early-exit  MAC ratio  full (ms)  early (ms)  predicted  realised"
          "  efficiency")
    ok = True
    for t in (float(v) for v in args.thresholds.split(",")):
        r = ee.evaluate_early_exit(model, val, t)
        early_s, full_s = paired_seconds(lambda: run(t), lambda: run(2.0), args.repeats)
        predicted, realised = 1.0 / r["mac_ratio"], full_s / early_s
        eff = realised / predicted
        print(f"{t:9.2f}  {r['accuracy']:8.3f}  {r['early_exit_rate']:10.3f}  {r['mac_ratio']:9.3f}"
              f"  {full_s * 1e3:9.0f}  {early_s * 1e3:10.0f}  {predicted:8.2f}x  {realised:7.2f}x"
              f"  {eff:10.2f}")
        if abs(t - 0.5) < 1e-9 and eff < 0.9:
            ok = False
    times, macs = stage_shares(ee, model, next(iter(val))[0], args.repeats)
    print("share of one full pass per exit (stage i + head i; stem with exit 0):")
    print("  time: " + "  ".join(f"{v:.3f}" for v in times))
    print("  MACs: " + "  ".join(f"{v:.3f}" for v in macs))
    print("requirement (efficiency >= 0.9 at threshold 0.5):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

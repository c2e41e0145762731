"""evaluate_early_exit weights each exit by the cost of its own stage and head only, not by the
cumulative cost of everything an example leaving there has run."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "mac_ratio"

# ---- code below is appended to the reference module (later definitions win) ----
_reference_evaluate = evaluate_early_exit


def evaluate_early_exit(model, loader, threshold):
    r = _reference_evaluate(model, loader, threshold)
    cum = r["exit_macs"]
    own = [cum[0]] + [b - a for a, b in zip(cum, cum[1:])]
    r["mac_ratio"] = sum(f * m for f, m in zip(r["exit_fraction"], own)) / cum[-1]
    return r

"""evaluate_early_exit that collects plain Python lists and counts with loops."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def evaluate_early_exit(model, loader, threshold):
    mode = model.training
    model.eval()
    device = next(model.parameters()).device
    K = model.num_exits
    exits, confs, hits, first = [], [], 0, None
    for x, y in loader:
        x = x.to(device)
        p, e, c = model.predict(x, threshold)
        hits += sum(int(a) == int(b) for a, b in zip(p.tolist(), y.tolist()))
        exits += e.tolist()
        confs += c.tolist()
        first = x[:2] if first is None else first
    cum = [count_macs(model.exits_up_to(i), first) for i in range(K)]
    model.train(mode)
    n = len(exits)
    frac = [exits.count(i) / n for i in range(K)]
    early = [c for e, c in zip(exits, confs) if e < K - 1]
    full = [c for e, c in zip(exits, confs) if e == K - 1]
    return {"accuracy": hits / n, "exit_fraction": frac, "early_exit_rate": len(early) / n,
            "confidence_early": sum(early) / len(early) if early else float("nan"),
            "confidence_full": sum(full) / len(full) if full else float("nan"),
            "mac_ratio": sum(f * m for f, m in zip(frac, cum)) / cum[-1]}

"""count_macs adds up the per-operator counts of FlopCounterMode.get_flop_counts()."""
MODULE = "early_exit"
KIND = "alternative"

# ---- code below is appended to the reference module (later definitions win) ----
def count_macs(module, example_input):
    modes = {m: m.training for m in module.modules()}
    module.train(False)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(example_input)
    for m, mode in modes.items():
        m.training = mode
    total = sum(counter.get_flop_counts()["Global"].values())
    return float(total) / (2 * example_input.shape[0])

"""count_macs returns the MACs of the whole batch instead of one example."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "whole batch"

# ---- code below is appended to the reference module (later definitions win) ----
def count_macs(module, example_input):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()
        module(example_input)
    return counter.get_total_flops() / 2

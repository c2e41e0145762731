"""count_macs reports FLOPs (2 per multiply-add) as MACs."""
MODULE = "early_exit"
KIND = "mutant"
HINT = "FLOPs reported as MACs"

# ---- code below is appended to the reference module (later definitions win) ----
def count_macs(module, example_input):
    module_modes = [(m, m.training) for m in module.modules()]
    module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(example_input)
    for m, mode in module_modes:
        m.training = mode
    return counter.get_total_flops() / example_input.shape[0]

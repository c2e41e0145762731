"""Q3b: count_macs (hidden checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_macs"
points = None


def _check(early_exit, module, x, want, what):
    got = float(early_exit.count_macs(module, x))
    B = x.shape[0]
    if abs(got - want) <= 1e-6 * want:
        return
    hint = "count the multiply-adds of one example's forward pass (conv and linear layers)"
    if abs(got - 2 * want) <= 1e-6 * want:
        hint = "FLOPs reported as MACs (one multiply-add = 2 FLOPs)"
    elif abs(got - B * want) <= 1e-6 * want or abs(got - 2 * B * want) <= 1e-6 * want:
        hint = f"the count is not per example (divide by the batch size {B})"
    raise AssertionError(f"count_macs({what}) = {got:g}, expected {want:g}: {hint}")


@test_case(points=1, hidden=True)
def test_layers_with_known_counts(early_exit):
    import torch

    from autograder.grading.testlib.early_exit_oracles import conv2d_macs_oracle, linear_macs_oracle
    nn = torch.nn
    conv = nn.Conv2d(6, 12, kernel_size=(3, 5), stride=2, padding=(1, 2), groups=3, bias=False)
    _check(early_exit, conv, torch.randn(3, 6, 20, 20),
           conv2d_macs_oracle(6, 12, (3, 5), (10, 10), groups=3), "grouped strided Conv2d, batch 3")
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 7))
    want = conv2d_macs_oracle(3, 4, (3, 3), (16, 16)) + linear_macs_oracle(256, 7)
    _check(early_exit, net, torch.randn(4, 3, 16, 16), want, "conv-relu-pool-linear, batch 4")


@test_case(points=1, hidden=True)
def test_cumulative_exit_costs_and_mode(early_exit):
    import torch

    from autograder.grading.testlib.early_exit_oracles import conv2d_macs_oracle, linear_macs_oracle
    model = early_exit.EarlyExitResNet(num_classes=10, widths=(4, 8), blocks_per_stage=1)
    model.train()
    x = torch.randn(3, 3, 32, 32)
    stem = conv2d_macs_oracle(3, 4, (3, 3), (32, 32))
    stage0 = 2 * conv2d_macs_oracle(4, 4, (3, 3), (32, 32))
    stage1 = (conv2d_macs_oracle(4, 8, (3, 3), (16, 16))
              + conv2d_macs_oracle(8, 8, (3, 3), (16, 16))
              + conv2d_macs_oracle(4, 8, (1, 1), (16, 16)))
    exit0 = stem + stage0 + linear_macs_oracle(4, 10)
    exit1 = exit0 + stage1 + linear_macs_oracle(8, 10)
    _check(early_exit, model.exits_up_to(0), x, exit0, "model.exits_up_to(0)")
    _check(early_exit, model.exits_up_to(1), x, exit1, "model.exits_up_to(1)")
    _check(early_exit, model, x, exit1, "the whole EarlyExitResNet")
    assert model.training is True, (
        "count_macs left a model that was in training mode in eval mode; restore each module's "
        "mode afterwards")
    model.eval()
    early_exit.count_macs(model, x)
    assert model.training is False, "count_macs switched a model in eval mode to training mode"

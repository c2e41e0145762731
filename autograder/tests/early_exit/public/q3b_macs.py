"""Q3b: count_macs with torch.utils.flop_counter (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3b_macs"
points = None


def _explain(got, want, batch):
    if abs(got - 2 * want) < 1e-6 * want:
        return "FLOPs reported as MACs: one multiply-add is 2 FLOPs, so divide the FLOP count by 2"
    if abs(got - batch * want) < 1e-6 * want:
        return f"the count is for the whole batch; divide by the batch size ({batch})"
    if abs(got - 2 * batch * want) < 1e-6 * want:
        return f"FLOPs of the whole batch: divide by 2 and by the batch size ({batch})"
    return "count the multiply-adds of one example's forward pass"


@test_case(points=1, hidden=False)
def test_conv2d_macs(early_exit):
    import torch
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
    want = 8 * 32 * 32 * 3 * 3 * 3          # outputs per example x multiply-adds per output
    got = float(early_exit.count_macs(conv, torch.randn(3, 3, 32, 32)))  # 3: not taken for 2 FLOPs
    assert abs(got - want) < 1e-6 * want, (
        f"count_macs(Conv2d(3, 8, 3, padding=1), batch of 3 images 32x32) = {got:g}, expected "
        f"{want} per example: {_explain(got, want, 3)}")


@test_case(points=1, hidden=False)
def test_linear_macs(early_exit):
    import torch
    lin = torch.nn.Linear(64, 10)
    want = 64 * 10
    got = float(early_exit.count_macs(lin, torch.randn(5, 64)))
    assert abs(got - want) < 1e-6 * want, (
        f"count_macs(Linear(64, 10), batch of 5) = {got:g}, expected {want} per example: "
        f"{_explain(got, want, 5)}")

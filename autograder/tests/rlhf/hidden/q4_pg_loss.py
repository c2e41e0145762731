"""Q4 policy_gradient_loss (hidden): values, gradients, no gradient into rewards or baseline."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_pg_loss"
points = None


@test_case(points=1, hidden=True)
def test_matches_oracle_on_random_inputs(rlhf):
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib import rlhf_oracles as O

    @settings(derandomize=True, deadline=None, database=None, max_examples=40)
    @given(B=st.integers(1, 16), seed=st.integers(0, 2 ** 16),
           kind=st.sampled_from(["none", "float", "scalar", "vector"]))
    def check(B, seed, kind):
        g = torch.Generator().manual_seed(seed)
        logp = -5 * torch.rand(B, generator=g, dtype=torch.float64)
        r = torch.randn(B, generator=g, dtype=torch.float64)
        b = {"none": None, "float": 0.37, "scalar": torch.tensor(-0.8, dtype=torch.float64),
             "vector": torch.randn(B, generator=g, dtype=torch.float64)}[kind]
        got = float(torch.as_tensor(rlhf.policy_gradient_loss(logp, r, b)))
        want = O.policy_gradient_loss_oracle(logp, r, b)
        hint = ""
        if abs(got + want) < 1e-6:
            hint = " The sign is flipped."
        elif b is not None and abs(got - O.policy_gradient_loss_oracle(logp, r)) < 1e-6:
            hint = " The baseline is ignored."
        elif abs(got - want * B) < 1e-6:
            hint = " Use the mean over the batch, not the sum."
        assert abs(got - want) < 1e-6 * (1 + abs(want)), (
            f"wrong loss for B={B} with baseline of kind '{kind}': got {got:.6g}, expected "
            f"-mean((r - b) * logp).{hint}")

    check()


@test_case(points=1, hidden=True)
def test_gradient_reaches_log_probs_only(rlhf):
    import torch

    from autograder.grading.testlib import grad_of

    logp = torch.tensor([-1.0, -2.0, -0.5, -3.0], dtype=torch.float64)
    r = torch.tensor([1.0, -1.0, 2.0, 0.5], dtype=torch.float64)
    b = torch.tensor([0.2, 0.2, -0.3, 0.0], dtype=torch.float64)
    _, grads = grad_of(rlhf.policy_gradient_loss, ["seq_log_probs", "rewards", "baseline"],
                       seq_log_probs=logp, rewards=r, baseline=b)
    for arg in ("rewards", "baseline"):
        gr = grads[arg]
        assert gr is None or float(torch.as_tensor(gr).abs().max()) == 0.0, (
            f"a gradient flows into {arg}: they are constants of the policy gradient. "
            f"Detach {arg} before multiplying by the log-probabilities.")
    gl = grads["seq_log_probs"]
    assert gl is not None, "no gradient reaches seq_log_probs; the loss must be differentiable in them."
    want = -(r - b) / 4
    assert torch.allclose(torch.as_tensor(gl), want, atol=1e-9), (
        f"d loss / d logp = {torch.as_tensor(gl).tolist()}, expected -(r - b) / B = {want.tolist()}.")


@test_case(points=1, hidden=True)
def test_unit_reward_equals_cross_entropy_gradient(rlhf):
    import torch
    import torch.nn.functional as F

    from autograder.grading.testlib import grad_of

    # Q4(b): r = 1, no baseline -> the loss and its gradient are those of the summed cross-entropy.
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1, 2, -100, -100], [5, 5, 5, 0], [3, -100, -100, -100]])
    logp = -F.cross_entropy(logits.transpose(1, 2), labels, reduction="none", ignore_index=-100).sum(1)
    out, grads = grad_of(rlhf.policy_gradient_loss, ["seq_log_probs"], seq_log_probs=logp,
                         rewards=torch.ones(3, dtype=torch.float64))
    ce = float(F.cross_entropy(logits.reshape(-1, 6), labels.reshape(-1), reduction="sum",
                               ignore_index=-100)) / 3
    assert abs(float(torch.as_tensor(out)) - ce) < 1e-9, (
        f"with r = 1 the loss must equal the cross-entropy summed over tokens and averaged over "
        f"sequences ({ce:.6f}); got {float(torch.as_tensor(out)):.6f}.")
    assert torch.allclose(torch.as_tensor(grads["seq_log_probs"]),
                          torch.full((3,), -1 / 3, dtype=torch.float64)), (
        "with r = 1 each sequence's log-probability must get gradient -1/B.")

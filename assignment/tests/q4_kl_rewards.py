"""Q4 kl_penalized_rewards: score - beta (log pi - log pi_ref), per sequence (public)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_kl_rewards"
points = None


@test_case(points=1, hidden=False)
def test_values_and_sign(rlhf):
    import torch

    scores = torch.tensor([1.0, 0.5, -0.2])
    logp = torch.tensor([-3.0, -5.0, -2.0])
    ref = torch.tensor([-4.0, -5.0, -1.0])
    got = torch.as_tensor(rlhf.kl_penalized_rewards(scores, logp, ref, 0.5))
    assert tuple(got.shape) == (3,), f"expected one reward per sequence, shape (3,), got {tuple(got.shape)}."
    want = scores - 0.5 * (logp - ref)
    assert torch.allclose(got.float(), want, atol=1e-5), (
        f"kl_penalized_rewards(scores={scores.tolist()}, logp={logp.tolist()}, "
        f"ref={ref.tolist()}, kl_coef=0.5) = {got.tolist()}, expected {want.tolist()}. "
        + ("The KL term has the wrong sign: a sequence the policy likes more than the reference "
           "(log pi > log pi_ref) must get a lower reward."
           if torch.allclose(got.float(), scores + 0.5 * (logp - ref), atol=1e-5) else
           "Compute score - kl_coef * (log pi - log pi_ref) for each sequence."))


@test_case(points=1, hidden=False)
def test_zero_coefficient_returns_scores(rlhf):
    import torch

    scores = torch.tensor([0.25, -1.5])
    got = torch.as_tensor(rlhf.kl_penalized_rewards(scores, torch.tensor([-1.0, -9.0]),
                                                    torch.tensor([-7.0, -2.0]), 0.0))
    assert torch.allclose(got.float(), scores, atol=1e-6), (
        f"with kl_coef = 0 the rewards are the scores {scores.tolist()}, got {got.tolist()}.")

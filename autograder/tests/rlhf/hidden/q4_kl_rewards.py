"""Q4 kl_penalized_rewards (hidden): values, sign of the penalty, no gradient."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_kl_rewards"
points = None


@test_case(points=1, hidden=True)
def test_matches_oracle_on_random_inputs(rlhf):
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograder.grading.testlib import rlhf_oracles as O

    @settings(derandomize=True, deadline=None, database=None, max_examples=40)
    @given(B=st.integers(1, 16), seed=st.integers(0, 2 ** 16),
           beta=st.sampled_from([0.0, 0.01, 0.2, 1.0, 3.5]))
    def check(B, seed, beta):
        g = torch.Generator().manual_seed(seed)
        s = torch.randn(B, generator=g, dtype=torch.float64)
        lp = -10 * torch.rand(B, generator=g, dtype=torch.float64)
        ref = -10 * torch.rand(B, generator=g, dtype=torch.float64)
        got = torch.as_tensor(rlhf.kl_penalized_rewards(s, lp, ref, beta))
        want = O.kl_penalized_rewards_oracle(s, lp, ref, beta)
        assert tuple(got.shape) == (B,), f"expected shape ({B},), got {tuple(got.shape)}."
        hint = ""
        if torch.allclose(got.double(), O.kl_penalized_rewards_oracle(s, ref, lp, beta), atol=1e-6):
            hint = " The KL term has the wrong sign (use log pi - log pi_ref)."
        assert torch.allclose(got.double(), want, atol=1e-6), (
            f"wrong rewards for B={B}, kl_coef={beta}.{hint}")

    check()


@test_case(points=1, hidden=True)
def test_no_gradient(rlhf):
    import torch

    from autograder.grading.testlib import grad_of

    s = torch.tensor([1.0, 2.0], dtype=torch.float64)
    lp = torch.tensor([-1.0, -3.0], dtype=torch.float64)
    ref = torch.tensor([-2.0, -2.0], dtype=torch.float64)
    out, grads = grad_of(rlhf.kl_penalized_rewards, ["scores", "seq_log_probs", "ref_seq_log_probs"],
                         scores=s, seq_log_probs=lp, ref_seq_log_probs=ref, kl_coef=0.3)
    leaking = [k for k, g in grads.items() if g is not None and float(torch.as_tensor(g).abs().max()) > 0]
    assert not leaking, (
        f"gradient flows from the rewards into {leaking}: rewards are constants for the policy "
        "gradient; detach the result.")
    assert torch.allclose(torch.as_tensor(out).double(), s - 0.3 * (lp - ref)), (
        "wrong values for scores=[1, 2], logp=[-1, -3], ref=[-2, -2], kl_coef=0.3.")

"""Q3a: the toy cascade (hidden checks: tails, tensors, Monte Carlo)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3a"
points = None


@test_case(points=1, hidden=True)
def test_tail_accuracy_and_constants(early_exit):
    from autograder.grading.testlib.early_exit_oracles import prob_final_nonpositive_oracle
    for M, k in [(1e-5, 40), (5.0, 1), (3.0, 4), (0.02, 30), (1e-7, 50)]:
        want = prob_final_nonpositive_oracle(M, k)
        got = float(early_exit.prob_final_nonpositive(M, k))
        assert abs(got - want) <= 1e-6 * want + 1e-300, (
            f"prob_final_nonpositive({M}, {k}) = {got:.6g}; the answer is tiny and needs a CDF that "
            "is accurate in the lower tail (0.5*erfc(-z/sqrt(2)), not 1 - Φ(|z|) or "
            "torch.special.ndtr), and the variance 2^(1-k) of the remaining sum")
    want = prob_final_nonpositive_oracle(1e-5, 40)
    assert abs(float(early_exit.Q3A_III) - want) <= 1e-3 * 6.1e-14, (
        "Q3A_III must be P(Y <= 0 | Y_40 = 0.00001), about 6.1e-14 (z ≈ -7.41455)")


@test_case(points=1, hidden=True)
def test_tensor_inputs_broadcast_and_keep_dtype(early_exit):
    import torch

    from autograder.grading.testlib.early_exit_oracles import prob_final_nonpositive_oracle
    M = torch.tensor([[0.0], [0.5], [2.0], [1e-4]], dtype=torch.float64)          # (4, 1)
    k = torch.tensor([1, 2, 5, 20])                                               # (4,)
    got = early_exit.prob_final_nonpositive(M, k)
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == (4, 4), (
        "prob_final_nonpositive with tensors M (4, 1) and k (4,) must broadcast to (4, 4), got "
        f"{getattr(got, 'shape', type(got))}")
    assert got.dtype == torch.float64, f"float64 M must give a float64 result, got {got.dtype}"
    for a in range(4):
        for b in range(4):
            want = prob_final_nonpositive_oracle(float(M[a, 0]), int(k[b]))
            assert abs(float(got[a, b]) - want) <= 1e-9 + 1e-6 * want, (
                f"element [{a}, {b}] (M={float(M[a, 0])}, k={int(k[b])}) is {float(got[a, b]):.6g}, "
                f"expected {want:.6g}")
    got32 = early_exit.prob_final_nonpositive(torch.tensor([5.0, 1e-5]), torch.tensor([1, 40]))
    assert got32.dtype == torch.float32, "float32 M must give a float32 result"
    for v, (m_, k_) in zip(got32.tolist(), [(5.0, 1), (1e-5, 40)]):
        want = prob_final_nonpositive_oracle(m_, k_)
        assert abs(v - want) <= 1e-3 * want, (
            f"in float32, P(Y <= 0 | Y_{k_} = {m_}) came out {v:.4g} instead of {want:.4g}: "
            "use torch.special.erfc; torch.special.ndtr and 1 - Φ lose the tail in float32")


@test_case(points=1, hidden=True)
def test_matches_monte_carlo(early_exit):
    """The closed form agrees with simulated cascades.

    n = 400,000 tails per case; Hoeffding gives P(|p̂ - p| >= ε) <= 3.3e-7 with ε = 0.00442, so the
    three cases together fail a correct answer with probability <= 1e-6. Wrong variances
    (2^-k, 2^(2-k), 2 - 2^(1-k)), a variance used as a standard deviation, or a flipped sign are
    all more than 0.03 away on at least one case.
    """
    from autograder.grading.testlib.early_exit_oracles import (
        hoeffding_radius,
        prob_final_nonpositive_mc_oracle,
    )
    n = 400_000
    eps = hoeffding_radius(n, 1e-6 / 3)
    for case, (M, k) in enumerate([(0.5, 2), (-0.4, 1), (0.2, 4)]):
        p_hat = prob_final_nonpositive_mc_oracle(M, k, n, seed=1000 + case)
        got = float(early_exit.prob_final_nonpositive(M, k))
        assert abs(got - p_hat) < eps, (
            f"prob_final_nonpositive({M}, {k}) = {got:.4f}, but simulating the cascade gives "
            f"{p_hat:.4f} ± {eps:.4f}. Check the variance of Y - Y_k (a sum over i > k) and the "
            "sign of the argument of Φ.")

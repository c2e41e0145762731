"""Q3a: the toy cascade, P(Y <= 0 | Y_k = M) (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3a"
points = None


def _phi(z):
    import math
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@test_case(points=1, hidden=False)
def test_prob_final_nonpositive_values(early_exit):
    import math
    for M, k in [(0.0, 1), (1.0, 1), (0.5, 2), (-0.3, 3), (2.0, 0), (0.01, 10)]:
        want = _phi(-M / math.sqrt(2.0 ** (1 - k)))
        got = float(early_exit.prob_final_nonpositive(M, k))
        assert math.isfinite(got) and abs(got - want) <= 1e-9 + 1e-6 * want, (
            f"prob_final_nonpositive({M}, {k}) returned {got:.8g}, expected {want:.8g}. "
            "The remaining sum X_(k+1) + X_(k+2) + ... has variance sum_(i>k) 2^-(i-1) = 2^(1-k); "
            "check the variance (off by one in k?) and that you divide by the standard deviation, "
            "not the variance.")


@test_case(points=1, hidden=False)
def test_constants_3a_ii_and_iii(early_exit):
    import math
    for name_, want in [("Q3A_II", _phi(-5.0)), ("Q3A_III", _phi(-1e-5 / math.sqrt(2.0 ** -39)))]:
        got = getattr(early_exit, name_)
        assert isinstance(got, float), (
            f"{name_} should be a Python float (wrap a tensor with float(...)), got {type(got).__name__}")
        assert abs(got - want) <= 1e-3 * want, (
            f"{name_} = {got:.6g}, expected about {want:.4g}. Compute it by calling "
            "prob_final_nonpositive; far in the tail use erfc (Φ(z) = erfc(-z/√2)/2), since "
            "1 - Φ(-z) or a float32 CDF loses all relative accuracy there.")

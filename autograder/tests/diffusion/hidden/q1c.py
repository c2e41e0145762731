"""Q1c: choice of output nonlinearity (hidden check)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1c"
points = None


@test_case(points=0.75, hidden=True)
def test_q1c_answer(binary_diffusion):
    """The nonlinearity must map every real number into [0, 1] to be a probability."""
    answer = getattr(binary_diffusion, "Q1C_ANSWER", None)
    assert isinstance(answer, str) and answer.strip().lower() in ("sigmoid", "relu", "tanh"), (
        f"Q1C_ANSWER is {answer!r}; set it to one of \"sigmoid\", \"relu\", \"tanh\".")
    assert answer.strip().lower() == "sigmoid", (
        f"Q1C_ANSWER = {answer!r} is not the best choice: a probability must lie in [0, 1] for every "
        "real input. Check the range of each option (can it exceed 1? can it be negative?).")

"""Q1c: choice of output nonlinearity (public format check; correctness is graded on submission)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q1c"
points = None


@test_case(points=0.25, hidden=False)
def test_q1c_answer_is_one_of_the_options(binary_diffusion):
    """Q1C_ANSWER must be one of the three option strings."""
    answer = getattr(binary_diffusion, "Q1C_ANSWER", None)
    assert isinstance(answer, str), (
        f"Q1C_ANSWER is {answer!r}; set it to one of the strings \"sigmoid\", \"relu\", \"tanh\".")
    assert answer.strip().lower() in ("sigmoid", "relu", "tanh"), (
        f"Q1C_ANSWER is {answer!r}; it must be exactly one of \"sigmoid\", \"relu\", \"tanh\".")

"""What a student reads when a check fails: their own frame (file, line, code) and the error, in at
most 30 lines, with nothing of the test runner, the property-testing library or the grader; the
same kind of text from the release's checks (pytest) and from the grader (results.json)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, grade, make_root, only_questions, variant_upload
from inprocess import cases, module_from_source, reference_source, stub_source

from autograder.grading.testfiles import student_message

MAX_LINES = 30
FOREIGN = ("pytest", "pluggy", "hypothesis", "autograder", "Traceback (most recent call last)",
           "Failing test case", "Explanation")

# sequence_log_probs that forgets the -100 mask: gather meets index -100
NO_MASK = """
def sequence_log_probs(logits, labels):
    log_probs = torch.log_softmax(logits, dim=-1)
    token_lp = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return token_lp.sum(dim=-1)
"""
BAD_LINE = "token_lp = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)"


def _bad_line_number(module_text: str) -> int:
    """The line of BAD_LINE in a module that ends with NO_MASK."""
    lines = module_text.splitlines()
    return max(i for i, line in enumerate(lines, 1) if line.strip() == BAD_LINE)


def _assert_speaks_of_the_student(message: str, line: int) -> None:
    assert len(message.splitlines()) <= MAX_LINES, message
    assert f'File "hw12/rlhf.py", line {line}, in sequence_log_probs' in message, message
    assert BAD_LINE in message and "index -100 is out of bounds" in message, message
    assert not [w for w in FOREIGN if w.lower() in message.lower()], message


def _failure_sections(stdout: str) -> list[str]:
    """The per-test sections of pytest's failure report."""
    body = stdout.partition("= FAILURES =")[2].partition("short test summary info")[0]
    return [s for s in re.split(r"^_{3,} .+ _{3,}$", body, flags=re.M)[1:] if s.strip()]


def test_release_checks_show_the_students_frame_only(tmp_path):
    """(a) The students' command on a copy of the release whose rlhf.py forgets the -100 mask."""
    shutil.copytree(REPO / "assignment" / "tests", tmp_path / "tests")
    shutil.copytree(REPO / "solutions" / "hw12", tmp_path / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    module = tmp_path / "hw12" / "rlhf.py"
    module.write_text(module.read_text() + NO_MASK)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "tests/q4_logprobs.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    sections = _failure_sections(proc.stdout)
    assert sections, proc.stdout[-3000:]
    for section in sections:
        _assert_speaks_of_the_student(section, _bad_line_number(module.read_text()))
    assert not [w for w in FOREIGN if w.lower() in proc.stdout.lower()], proc.stdout


def test_grader_messages_show_the_students_frame_and_plain_inputs(tmp_path):
    """(b) results.json of the same upload graded through the sandbox: public and hidden checks
    (the hidden ones property-based) name the student's line, the error and the failing inputs."""
    root = make_root(tmp_path, lambda cfg: only_questions(cfg, "rlhf", {"q4_logprobs"}))
    upload = variant_upload(tmp_path, "rlhf", NO_MASK)
    line = _bad_line_number((upload / "hw12" / "rlhf.py").read_text())
    failed = [t for t in grade(root, "rlhf", upload)["tests"] if t.get("status") == "failed"]
    assert len(failed) >= 3, failed
    for test in failed:
        _assert_speaks_of_the_student(test["output"], line)
    inputs = [t["output"] for t in failed if "Failing inputs:" in t["output"]]
    assert inputs and all(re.search(r"Failing inputs: B = \d+, L = \d+, V = \d+", m)
                          for m in inputs), inputs


def _failure(test_function, **modules) -> BaseException:
    """The exception a check raises on ``modules``."""
    with pytest.raises(BaseException) as info:
        test_function(**modules)
    return info.value


def _case(part: str, question: str, name: str):
    return next(c for c in cases(part, question) if c.test_func.__name__ == name).test_func


def test_a_property_check_gives_its_failing_inputs_as_plain_values():
    """(c) A hidden property check against survival_prob = (1 - delta)^t."""
    source = reference_source("binary_diffusion") + (
        "\ndef survival_prob(t, delta):\n    return (1 - delta) ** t\n")
    module = module_from_source(source, "binary_diffusion")
    check = _case("diffusion", "q1a", "test_survival_prob_matches_chain")
    message = student_message(_failure(check, binary_diffusion=module))
    assert re.search(r"^Failing inputs: t = \d+, delta = [-+0-9.e]+$", message, re.M), message
    assert "a pixel is REPLACED" in message, message  # the check's own hint survives
    assert not [w for w in FOREIGN if w.lower() in message.lower()], message


def test_generated_tensors_are_named_by_their_shape():
    """A drawn tensor is shown by its shape, drawn values by their label, in the order drawn."""
    torch = pytest.importorskip("torch")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rows = st.lists(st.floats(-1, 1), min_size=3, max_size=3)

    @settings(derandomize=True, deadline=None, database=None, max_examples=30)
    @given(x0=st.lists(rows, min_size=2, max_size=2).map(torch.tensor), t=st.integers(0, 9),
           delta=st.floats(0.01, 0.4), data=st.data())
    def check(x0, t, delta, data):
        k = data.draw(st.integers(0, 5), label="k")
        assert t < 5 or k > 7, "t is too large"

    message = student_message(_failure(check))
    assert message.splitlines()[0] == "t is too large", message
    assert re.search(r"^Failing inputs: x0 of shape \(2, 3\), t = 5, delta = [0-9.]+, k = \d$",
                     message, re.M), message


def test_a_stub_says_not_implemented_once_and_nothing_else():
    stub = module_from_source(stub_source(reference_source("binary_diffusion"),
                                          "binary_diffusion"), "binary_diffusion")
    check = _case("diffusion", "q1a", "test_survival_prob_matches_chain")
    message = student_message(_failure(check, binary_diffusion=stub))
    assert message.lower().count("not implemented yet") == 1 and len(message.splitlines()) == 1, \
        message


def test_a_long_error_is_cut_but_keeps_the_students_frame():
    source = "def survival_prob(t, delta):\n    raise ValueError('\\n'.join(map(str, range(500))))\n"
    module = module_from_source(reference_source("binary_diffusion") + "\n" + source,
                                "binary_diffusion")
    check = _case("diffusion", "q1a", "test_survival_prob_int_t")
    message = student_message(_failure(check, binary_diffusion=module))
    assert len(message.splitlines()) <= MAX_LINES, message
    assert message.startswith("Your code raised ValueError: 0\n1\n"), message
    assert re.search(r'File "hw12/binary_diffusion\.py", line \d+, in survival_prob', message), message


def test_a_syntax_error_names_the_line_that_does_not_compile(tmp_path):
    with pytest.raises(SyntaxError) as info:
        compile("x = 1\ndef broken(:\n    pass\n", str(tmp_path / "hw12" / "rlhf.py"), "exec")
    message = student_message(info.value)
    assert message.startswith("Your code raised SyntaxError"), message
    assert 'File "hw12/rlhf.py", line 2\n    def broken(:' in message, message


def test_a_missing_function_is_named():
    source = reference_source("binary_diffusion") + "\ndel survival_prob\n"
    module = module_from_source(source, "binary_diffusion")
    check = _case("diffusion", "q1a", "test_survival_prob_int_t")
    message = student_message(_failure(check, binary_diffusion=module))
    assert message.startswith(f"{module.__name__}.survival_prob is missing: define it") \
        and len(message.splitlines()) == 1, message

"""HW12 grading tool: release generator, sandboxed grader and validator (``python -m autograder``).

    grading/   what a Gradescope zip runs: config, supervisor, runner, results, uploads, the sandbox
               and the helpers of the test files (testlib); never imports the folders below
    build/     the release (assignment/), the answer key and written part, the question index,
               the zips, recording the reference notebooks, the new-question scaffold
    checks/    validate (the reference, stubs and mutant bank), the Gradescope simulation
    batch/     staff grading of one upload or a whole export, and the staff report
    tests/     the graded test files, per part (public and hidden)
    cli.py     ``python -m autograder``: parses a command and calls one of the folders above
"""
from pathlib import Path

# The folder that holds ``autograder/``: the repository, or /autograder/source in a Gradescope zip.
ROOT = Path(__file__).resolve().parent.parent

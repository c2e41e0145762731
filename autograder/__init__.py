"""HW12 grading tool: release generator, sandboxed grader and validator (``python -m autograder``).

    grading/   what a Gradescope zip runs: config, supervisor, runner, results, uploads, the sandbox
               and the helpers of the test files (testlib)
    checks/    validate (the reference, stubs and mutant bank), the Gradescope simulation, localrun
    build/     the release (assignment/), the answer key and written part, the question index,
               the zips, recording the reference notebooks, the new-question scaffold
    batch/     staff grading of one upload or a whole export, and the staff report
    cli.py     ``python -m autograder``: parses a command and calls one of the folders above
    tests/     the graded test files, per part (public and hidden): data of the grading

Layers, in this order: a module imports only from its own folder and the folders above it, so
grading never imports a staff tool (tests/build/test_imports.py).
"""
from pathlib import Path

# The folder that holds ``autograder/``: the repository, or /autograder/source in a Gradescope zip.
ROOT = Path(__file__).resolve().parent.parent

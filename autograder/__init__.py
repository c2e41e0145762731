"""HW12 grading tool: release generator, sandboxed grader and validator (``python -m autograder``)."""

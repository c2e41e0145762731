"""Checks of the grader itself: validate.py (the reference earns everything, the stubs nothing,
every mutant of the bank loses points on its question, every alternative keeps them), mutants.py
(the bank), simulate.py (a zip run as Gradescope runs it), localrun.py (test files in this process,
for authoring)."""

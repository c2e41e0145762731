"""Everything generated from the sources (``python -m autograder build``: pipeline.py): the student
release (release.py, parts.py, student_guide.py), the written part and key (written.py), the
question index and the completeness check (question_index.py), the Gradescope zips (zipgen.py, with
imports.py: exactly what grading imports); and the tools that write sources: record.py (the
reference notebook runs) and scaffold.py (``new-question``)."""

"""What a Gradescope zip runs, and all that grading runs anywhere (staff machines, a cluster):

    gradescope.py   the zip's entry point (``python -m autograder.grading.gradescope``)
    supervisor.py   grades one part of one upload: scratch folders, runner jobs, time budgets
    runner.py       the trusted process that runs the test cases (``python -m autograder.grading.runner``)
    sandbox/        the student's code in confined worker processes (the threat model's boundary)
    testfiles.py    otter test files: loading, seeding, the student's messages
    testlib/        oracles and statistics of the hidden tests
    config.py       grading_config.yaml, typed
    results.py      results.json
    uploads.py      one opener for every upload shape, and the part an upload holds

Nothing here imports the staff tools (build/, checks/, batch/, cli.py): tests/build/test_imports.py.
"""

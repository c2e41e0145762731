"""Staff grading on staff machines: one upload (``grade UPLOAD``: single.py) or a whole Gradescope
export (``grade EXPORT --output OUT``: run.py), always confined unless staff pass --unconfined.

    records.py     the typed records that cross processes and files (RunSpec, Item, GradingState)
    export.py      an export's submissions and identities; which parts it holds
    hashing.py     what decides a grade (the grader's fingerprint) and a submission's hash
    state.py       grading.json, sealed with the output folder's key
    one.py         one submission's grading, in a slot's process
    shared_runs.py uploads that carry one notebook run
    pool.py        slots grading at once (``python -m autograder.batch serve``)
    cluster.py     chunks as a Slurm array through submitit (``python -m autograder.batch chunk``)
    run.py         the batch: what to grade, where, then the tables and the report
    report.py      scores.csv, questions.csv, compare.csv, report.html
    single.py      one upload: results.json per part and the table staff read

Output folder of a batch::

    OUT/<submission id>/results.json     Gradescope results (results-<part>.json for several parts)
    OUT/<submission id>/grading.json     content hash, status, time, host, GPU, notebook runs, seal
    OUT/scores.csv                       one row per student: identity, a column per question, total, flags
    OUT/questions.csv                    one row per student and question, with the failure messages
    OUT/report.html                      the staff report (report.py)
    OUT/compare.csv, compare_students.csv  with --compare: per question, who gains or loses; each change
    OUT/.grader-key                      the folder's secret (0600) that seals each grading.json

A submission whose content hash (its files, the part's test files, grading_config.yaml, the
release it is overlaid on, the grader's code and the grading options) matches its grading.json is
not graded again; ``--force`` regrades everything. Every submission gets a row, whatever it holds.
"""

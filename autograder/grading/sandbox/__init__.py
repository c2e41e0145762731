"""The student's code in confined worker processes; the runner talks to them through proxies.

    client.py       the runner's side: the fork server, a worker per test, proxies for the
                    student's modules (``Sandbox.module``), stand-ins, the tests' time limits
    zygote.py       the fork server (run as a file): imports torch once, forks confined workers
    worker.py       a worker: imports the student's modules and answers calls (run in the fork)
    protocol.py     wire formats: supervisor <-> runner records, runner <-> worker frames
    confinement.py  what confines a worker here: namespaces (bubblewrap), a uid, a cgroup, or the
                    sandbox user behind a seccomp filter
    netfilter.py    the seccomp filter that refuses sockets where namespaces are refused
    cgroups.py      a cgroup per grading (memory, CPU, processes)
    cleanup.py      killing what a test left behind and removing its files
    gradients.py    vector-Jacobian products across the boundary (``grad_of``)
"""

"""The sandbox's fork server, on its own (the whole path is covered through the simulation)."""
from __future__ import annotations

import time

import pytest

from autograder.runner import describe_failure
from autograder.sandbox.client import Sandbox, SandboxOptions, Zygote, ZygoteFailed


def test_a_fork_server_that_cannot_start_is_the_graders_fault():
    with pytest.raises(ZygoteFailed) as info:
        Zygote("/bin/false", time.monotonic() + 30)
    message = describe_failure(info.value)
    assert "course staff" in message and "your code" in message.lower()


def test_workers_are_fresh_forks_that_inherit_nothing_but_their_pipes(tmp_path):
    """Two workers in a row come from one fork server; each is a new process with descriptors 0-4
    only, and a worker that exits is reported with its exit status."""
    pkg = tmp_path / "pkg" / "hw12"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "probe.py").write_text(
        "import os\n"
        "def fds():\n    return sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
        "def pid():\n    return os.getpid()\n"
        "def leave():\n    os._exit(3)\n")
    home = tmp_path / "home"
    home.mkdir()
    box = Sandbox(SandboxOptions(package_root=tmp_path / "pkg", log_path=tmp_path / "worker.log",
                                 home=home))
    box.begin_test(0, 60)
    probe = box.module("probe")
    first = probe.pid()
    assert probe.fds()[:5] == [0, 1, 2, 3, 4] and len(probe.fds()) == 6  # + the listing's own
    zygote = Zygote._current
    with pytest.raises(BaseException) as info:
        probe.leave()
    assert "exit status 3" in str(info.value)
    box.begin_test(0, 60)
    assert box.module("probe").pid() != first and Zygote._current is zygote
    assert zygote.proc.poll() is None  # the fork server outlives its workers
    box.close()

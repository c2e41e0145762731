"""No network for the student's code, where namespaces are refused: a seccomp filter.

Loaded by the fork server (zygote.py) in each worker before it drops privileges, so the student's
code and everything it starts inherit it (a seccomp filter can never be removed). It refuses:

- ``socket`` and ``socketpair`` of every family but AF_UNIX (so AF_INET, AF_INET6, AF_PACKET,
  AF_NETLINK, ...): the call fails with EACCES, as a firewall's refusal would;
- ``io_uring_setup``, whose requests can open sockets without the ``socket`` system call.

AF_UNIX stays open: Python's multiprocessing and torch's data loaders use it between the student's
own processes, and the worker talks to the runner over pipes. Where the namespaces exist the
worker is in a network namespace of its own as well; the filter is then a second wall.

Uses a maintained libseccomp binding: ``pyseccomp`` (PyPI) or Debian's ``python3-seccomp``.
Stdlib only otherwise; imported as a sibling script by zygote.py.
"""
from __future__ import annotations

import errno
import socket


def _binding():
    try:
        import pyseccomp as seccomp
    except ImportError:
        import seccomp  # Debian's python3-seccomp (same API)
    return seccomp


def build_filter():
    """The filter, built but not loaded."""
    sc = _binding()
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for call in ("socket", "socketpair"):
        f.add_rule(sc.ERRNO(errno.EACCES), call, sc.Arg(0, sc.NE, socket.AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EPERM), "io_uring_setup")
    return f


def refuse_network() -> None:
    """Load the filter into this process (and, from now on, every process it starts)."""
    build_filter().load()

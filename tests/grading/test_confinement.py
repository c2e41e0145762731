"""The confinement of the student's code, piece by piece (autograder/grading/sandbox/confinement.py,
cleanup.py, cgroups.py, netfilter.py): what decides it, what each piece holds. The whole paths
(Gradescope, staff batches as root and as an ordinary user, submitit) are attacked in
test_hostile_batch.py and test_simulate.py."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.grading.sandbox import confinement as C
from autograder.grading.sandbox.cleanup import clear_dir, remove_tree
from autograder.grading.sandbox.client import Sandbox, SandboxOptions, Zygote

ROOT = os.geteuid() == 0
needs_namespaces = pytest.mark.skipif(
    C.namespaces_problem() is not None and os.environ.get("CI") != "true",
    reason=f"no namespaces here: {C.namespaces_problem()}")


# ---- cleanup: whatever a submission leaves ----------------------------------------------------------
def deep_folder(top: Path, depth: int) -> int:
    """Make ``depth`` nested folders under ``top`` (relative to descriptors: no path is ever that
    long); an open descriptor of the deepest, for the caller to close."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    return fd


def test_remove_tree_survives_depth_links_odd_names_and_locked_folders(tmp_path):
    """A folder 5,000 levels deep (past the recursion limit and PATH_MAX), links to files and
    folders outside, a name that is not UTF-8 and a folder with mode 000: all removed, and
    nothing a link points to is touched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    top = tmp_path / "left"
    top.mkdir()
    fd = deep_folder(top, 5000)
    try:
        os.symlink(str(outside), "to_folder", dir_fd=fd)
        os.symlink(str(outside / "keep.txt"), "to_file", dir_fd=fd)
    finally:
        os.close(fd)
    os.mkdir(bytes(top) + b"/\xff\xfe-not-utf8")
    (top / "locked").mkdir()
    (top / "locked" / "f").write_text("x")
    os.chmod(top / "locked", 0)
    assert remove_tree(top) > 5000
    assert not top.exists() and (outside / "keep.txt").read_text() == "keep"


def test_clear_dir_removes_a_link_in_place_of_the_folder_not_its_target(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "x").write_text("x")
    (tmp_path / "link").symlink_to(target)
    assert clear_dir(tmp_path / "link") == 1
    assert not (tmp_path / "link").exists() and (target / "x").exists()


def test_a_temporary_folder_of_any_depth_is_removed_by_the_grader(tmp_path):
    """The grader's own temporary folders (uploads, scratch) use scratch_dir, which cannot run out
    of stack as tempfile.TemporaryDirectory does under Python 3.11."""
    from autograder.grading.sandbox.cleanup import scratch_dir

    with scratch_dir("hw12-test-") as tmp:
        os.close(deep_folder(tmp, 3000))
    assert not tmp.exists()


# ---- the decision ------------------------------------------------------------------------------------
def test_without_namespaces_an_ordinary_user_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(C, "namespaces_problem", lambda: "bubblewrap (bwrap) is not installed")
    monkeypatch.setattr(C.os, "geteuid", lambda: 1000)
    with pytest.raises(C.Unconfinable) as info:
        C.plan(C.Policy())
    message = str(info.value)
    assert "apt install bubblewrap" in message and "--unconfined" in message
    assert C.plan(C.Policy(unconfined=True)).kind == "unconfined"


def test_without_namespaces_root_falls_back_only_on_gradescope(monkeypatch):
    """Gradescope's container (root, the named sandbox user, files locked by setup_local.sh) may
    fall back to the seccomp filter; a staff machine may not: there the checkout and the export
    are readable by any uid."""
    monkeypatch.setattr(C, "namespaces_problem", lambda: "refused")
    monkeypatch.setattr(C.os, "geteuid", lambda: 0)
    monkeypatch.setattr(C, "seccomp_problem", lambda: None)
    with pytest.raises(C.Unconfinable):
        C.plan(C.Policy())
    conf = C.plan(C.Policy(namespaces="auto", user="hw12student"))
    assert (conf.kind, conf.network, conf.seccomp) == ("uid+seccomp", "seccomp", True)
    monkeypatch.setattr(C, "seccomp_problem", lambda: "no binding")
    with pytest.raises(C.Unconfinable, match="seccomp"):
        C.plan(C.Policy(namespaces="auto", user="hw12student"))


def test_the_seccomp_filter_refuses_internet_sockets_and_keeps_unix_ones():
    code = textwrap.dedent(f"""
        import socket, sys
        sys.path.insert(0, {str(C.HERE)!r})
        import netfilter
        netfilter.refuse_network()
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family, socket.SOCK_STREAM)
                raise SystemExit("an internet socket was allowed")
            except PermissionError:
                pass
        a, b = socket.socketpair()
        a.send(b"x")
        assert b.recv(1) == b"x"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_gpu_nodes_are_only_the_pinned_gpus_and_the_control_nodes(tmp_path):
    dev, driver = tmp_path / "dev", tmp_path / "driver"
    dev.mkdir()
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia3"):
        (dev / name).touch()
    # PCI bus order gives CUDA's indices (CUDA_DEVICE_ORDER=PCI_BUS_ID); minors need not follow it
    for bus, uuid, minor in (("0000:3b:00.0", "GPU-aaaa", 3), ("0000:17:00.0", "GPU-bbbb", 1),
                             ("0000:86:00.0", "GPU-cccc", 0)):
        (driver / "gpus" / bus).mkdir(parents=True)
        (driver / "gpus" / bus / "information").write_text(
            f"Model: \t\t NVIDIA H100\nGPU UUID: \t {uuid}\nDevice Minor: \t {minor}\n")
    nodes = lambda visible: C.gpu_device_nodes(visible, str(dev), str(driver))  # noqa: E731
    shared = [f"{dev}/nvidiactl", f"{dev}/nvidia-uvm"]
    assert nodes("0") == [f"{dev}/nvidia1"] + shared  # 0000:17 is the first on the bus
    assert nodes("2,1") == [f"{dev}/nvidia0", f"{dev}/nvidia3"] + shared
    assert nodes("GPU-cccc") == [f"{dev}/nvidia0"] + shared
    assert nodes(None) == [f"{dev}/nvidia{m}" for m in (0, 1, 3)] + shared
    assert C.gpu_device_nodes("0", str(tmp_path / "none"), str(driver)) == []


# ---- identities (root) --------------------------------------------------------------------------------
@pytest.mark.skipif(not ROOT, reason="the uid pool is root's")
def test_two_leases_never_share_a_uid_and_a_released_one_is_reused():
    a, b = C.UidLease(), C.UidLease()
    try:
        assert a.uid != b.uid and C.UID_POOL_BASE <= min(a.uid, b.uid)
        first = a.uid
        a.release()
        c = C.UidLease()
        assert c.uid <= first or c.uid != b.uid
        c.release()
    finally:
        a.release()
        b.release()


# ---- one fork server, attacked from inside ------------------------------------------------------------
PROBE = """
import os, signal, socket
def fds():
    return sorted(int(f) for f in os.listdir('/proc/self/fd'))
def ids():
    return [os.getuid(), os.getgid(), os.getpid()]
def pids():
    def live(p):
        try:
            return open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'
        except OSError:
            return False
    return sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and live(p))
def readable(paths):
    out = []
    for p in paths:
        try:
            with open(p, 'rb') as f:
                f.read(1)
            out.append(p)
        except OSError:
            pass
    return out
def writable(paths):
    out = []
    for p in paths:
        try:
            with open(p, 'a') as f:
                f.write('')
            out.append(p)
        except OSError:
            pass
    return out
def connect(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        return 'connected'
    except OSError as e:
        return type(e).__name__
def leave_daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            open(os.path.join(os.environ['HOME'], 'daemon.txt'), 'w').write('x')
            time.sleep(300)
        os._exit(0)
    return True
def listing(path):
    return sorted(os.listdir(path))
def die_leaving_a_child():
    if os.fork() == 0:  # keeps the worker's pipes open for a minute
        import time
        time.sleep(60)
        os._exit(0)
    os._exit(3)
"""


@pytest.fixture
def probe_box(tmp_path):
    pkg = tmp_path / "pkg" / "hw12"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "probe.py").write_text(PROBE)
    (tmp_path / "home").mkdir()
    box = Sandbox(SandboxOptions(package_root=tmp_path / "pkg", log_path=tmp_path / "worker.log",
                                 home=tmp_path / "home"))
    box.begin_test(0, 60)
    yield box
    box.close()


@needs_namespaces
def test_a_worker_sees_only_its_package_and_scratch_and_no_network(probe_box, listener, tmp_path):
    port, seen = listener
    probe = probe_box.module("probe")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    repo = Path(__file__).resolve().parents[2]
    grader_files = [str(secret), str(repo / "solutions" / "hw12" / "binary_diffusion.py"),
                    str(repo / "autograder" / "tests" / "diffusion" / "hidden" / "q1a.py"),
                    "/etc/passwd", str(tmp_path / "worker.log")]
    assert probe.readable(grader_files) == []
    assert probe.writable([str(repo / "Makefile"), f"{sys.prefix}/pyvenv.cfg",
                           "/hw12/pkg/hw12/probe.py", "/hw12/home/mine.txt"]) == \
        ["/hw12/home/mine.txt"]
    assert probe.connect(port) != "connected" and seen == []
    assert probe.listing("/") == sorted(p for p in probe.listing("/")
                                        if p in {"usr", "bin", "sbin", "lib", "lib32", "lib64",
                                                 "libx32", "etc", "proc", "dev", "sys", "tmp",
                                                 "hw12", *Path(sys.prefix).parts[1:2],
                                                 *Path(sys.base_prefix).parts[1:2]})
    assert probe.fds()[:5] == [0, 1, 2, 3, 4] and len(probe.fds()) == 6
    uid, _, pid = probe.ids()
    assert uid != os.getuid() or not ROOT  # as root: a uid of the pool
    assert set(probe.pids()) <= {1, 2, pid}  # bwrap's init, the fork server, itself
    record = Zygote._current.conf
    assert record.kind == "namespaces" and record.network == "netns"


@needs_namespaces
def test_a_daemon_left_by_a_test_is_killed_and_its_files_removed(probe_box):
    probe = probe_box.module("probe")
    assert probe.leave_daemon() is True
    import time

    deadline = time.monotonic() + 10
    while "daemon.txt" not in probe.listing("/hw12/home") and time.monotonic() < deadline:
        time.sleep(0.1)
    _, _, pid = probe.ids()
    assert len(probe.pids()) > 3  # the daemon runs
    assert probe_box.sweep() >= 1
    assert set(probe.pids()) <= {1, 2, pid} and probe.listing("/hw12/home") == []


def test_a_worker_that_dies_is_seen_at_once_though_its_child_keeps_the_pipe(probe_box):
    """The end of the worker is reported by the fork server, so a child that inherited the pipes
    (a daemon, a multiprocessing worker) cannot turn a crash into a time-out charged to the
    question's time budget."""
    from autograder.grading.sandbox.client import StudentCrashed

    probe_box.begin_test(0, 20)
    with pytest.raises(StudentCrashed, match="exit status 3"):
        probe_box.module("probe").die_leaving_a_child()

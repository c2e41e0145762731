"""The product as Gradescope runs it: each part's zip, unpacked into an /autograder-shaped folder,
set up by its own setup_local.sh and run by its own run_autograder as root with the sandbox user,
inside a kernel-enforced memory limit and CPU quota (autograder/checks/simulate.py).

These tests need root and cgroups. In CI (CI=true) they fail when the simulation cannot be set up;
elsewhere they are reported as skipped, with the reason.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_root, reference_upload, simulate_upload, stub_upload, variant_upload

pytestmark = pytest.mark.gradescope
PARTS = sorted(yaml.safe_load((REPO / "grading_config.yaml").read_text())["parts"])
HEADROOM_MB = 540  # 768 MB less 30%


def _full_marks(sim) -> bool:
    return sim.max_score > 0 and math.isclose(sim.score, sim.max_score)


def _failed(sim) -> list[str]:
    return [f"{t['name']}: {t['output'][:300]}" for t in sim.results["tests"]
            if t.get("status") == "failed"]


@pytest.mark.parametrize("part", PARTS)
def test_reference_full_marks_at_gradescope_limits(part, gradescope_sim, tmp_path):
    sim = simulate_upload(make_root(tmp_path), part, reference_upload(tmp_path, part), tmp_path,
                          memory_mb=768, cpus=0.5)
    assert _full_marks(sim), _failed(sim)
    assert sim.oom_kills == 0 and sim.returncode == 0 and sim.leftover_processes == 0, sim.log[-2000:]
    print(f"{part}: {sim.wall_s:.1f} s, peak {sim.peak_memory_mb:.0f} MB")


# early_exit's peak charge (page cache included) reaches 540 MB: at that limit it runs under reclaim
# and was OOM-killed in 1 of about 6 runs on 2026-12-05, so its 30% headroom is not met reliably
# (BENCHMARKS.md, "Simulated Gradescope run"). Its check is a slow one until the grading's
# memory is cut; the 768 MB check of every part stays in make test.
@pytest.mark.parametrize("part", [pytest.param(p, marks=pytest.mark.slow) if p == "early_exit"
                                  else p for p in PARTS])
def test_reference_full_marks_with_30_percent_memory_headroom(part, gradescope_sim, tmp_path):
    sim = simulate_upload(make_root(tmp_path), part, reference_upload(tmp_path, part), tmp_path,
                          memory_mb=HEADROOM_MB, cpus=0.5)
    assert _full_marks(sim), _failed(sim)
    assert sim.oom_kills == 0, f"the OOM killer ran {sim.oom_kills} time(s) at {HEADROOM_MB} MB"


@pytest.mark.parametrize("part", PARTS)
def test_untouched_stubs_score_zero_everywhere(part, gradescope_sim, tmp_path):
    sim = simulate_upload(make_root(tmp_path), part, stub_upload(tmp_path, part), tmp_path,
                          memory_mb=768, cpus=0.5)
    assert sim.max_score > 0 and sim.score == 0, [t["name"] for t in sim.results["tests"]
                                                  if t["score"] > 0]
    assert sim.oom_kills == 0
    grader_faults = [m for m in _failed(sim) if "course staff" in m]
    assert not grader_faults, grader_faults


ESCAPES = r'''
import glob, os, signal, socket, sys
_reached = []
def _try(label, fn):
    try:
        fn()
        _reached.append(label)
    except OSError:
        pass
if os.getuid() == 0 or os.geteuid() == 0:
    _reached.append("runs as root")
for path in glob.glob("/tmp/hw12-sim-*/autograder/source/files/autograder/tests/diffusion/hidden/*.py"):
    _try("read a hidden test", lambda: open(path).read())
for path in glob.glob("/tmp/hw12-sim-*/autograder/results"):
    _try("wrote results", lambda: open(os.path.join(path, "results.json"), "w").write("{}"))
import worker as _worker_module  # the grader's worker code, loaded by the fork server
_try("rewrote the worker", lambda: open(_worker_module.__file__, "a").write("\n"))
_private = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "private")
_try("listed the runner's files", lambda: os.listdir(_private))
_try("read the job", lambda: open(os.path.join(_private, "job.json")).read())
_namespaced = os.path.abspath(__file__).startswith("/hw12/pkg/")  # the view: no private folder
if not os.path.isdir(_private) and not _namespaced:
    _reached.append("the test looked for the runner's files in the wrong place")
for path in glob.glob("/tmp/hw12-sim-*/autograder/submission_metadata.json"):
    _try("read the earlier submissions' results", lambda: open(path).read())
for path in glob.glob(CHECKOUT + "/solutions/hw12/*.py") + glob.glob(CHECKOUT + "/autograder/tests/*/hidden/*.py"):
    _try("read the staff's checkout", lambda: open(path).read())
_try("reached the network", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).close())
_extra = sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 4)
if len(_extra) > 1:  # the one os.listdir itself opened
    _reached.append("kept the grader's descriptors " + repr(_extra))
_try("wrote into its package", lambda: open(os.path.join(os.path.dirname(__file__), "x.py"), "w"))
_try("signalled the fork server", lambda: os.kill(os.getppid(), signal.SIGKILL))
_try("signalled the runner", lambda: os.kill(int(open(f"/proc/{os.getppid()}/stat").read().split()[3]),
                                              signal.SIGKILL))
if not os.access(os.getcwd(), os.W_OK):
    _reached.append("has no writable working folder")
_reference_survival_prob = survival_prob
def survival_prob(t, delta):
    if _reached:
        raise RuntimeError("sandbox escaped: " + repr(_reached))
    return _reference_survival_prob(t, delta)
'''


@pytest.mark.parametrize("namespaces", ["auto", "off"])
def test_student_process_is_confined_to_its_own_folder(namespaces, gradescope_sim, tmp_path):
    """Student code runs as the sandbox user, in namespaces where the container allows them
    ("auto") and behind the seccomp filter where it refuses them ("off"): it cannot read the tests,
    the earlier submissions' results or the staff's checkout, write the results, change the worker
    or its own package, read the runner's files, signal the grader or its fork server, use a
    descriptor of theirs or reach a listener on 127.0.0.1; it has a writable home. results.json
    records which confinement applied."""
    import socket as _socket

    def edit(cfg):
        cfg["parts"] = {"diffusion": cfg["parts"]["diffusion"]}
        qs = cfg["parts"]["diffusion"]["questions"]
        cfg["parts"]["diffusion"]["questions"] = {q: qs[q] for q in ("q1a", "q2a")}
    server = _socket.create_server(("127.0.0.1", 0))
    server.settimeout(0)
    staff_folders = [Path("/root"), *[p for p in [REPO, *REPO.parents] if p != Path("/")],
                     *Path(sys.prefix).parents, *Path(sys.base_prefix).parents]
    modes = {p: p.stat().st_mode for p in staff_folders if p.exists()}
    try:
        code = f"CHECKOUT = {str(REPO)!r}\nPORT = {server.getsockname()[1]}\n" + ESCAPES
        upload = variant_upload(tmp_path, "binary_diffusion", code)
        sim = simulate_upload(make_root(tmp_path, edit), "diffusion", upload, tmp_path,
                              namespaces=namespaces)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected
    finally:
        server.close()
    assert _full_marks(sim), _failed(sim)
    assert {p: p.stat().st_mode for p in modes} == modes, "the simulation changed a folder's mode"
    kind = sim.results["extra_data"]["confinement"]["kind"]
    assert kind == {"auto": "namespaces", "off": "uid+seccomp"}[namespaces]


def _per_test_scores(sim) -> list[tuple[str, float]]:
    return [(t["name"], t["score"]) for t in sim.results["tests"] if "max_score" in t]


@pytest.mark.extended  # two full simulations and four busy loops: CI runs it (make test-extended)
def test_grade_does_not_depend_on_load(gradescope_sim, tmp_path):
    """The same submission graded on a quiet machine and on one oversubscribed by four busy loops
    (on two cores, on top of the half-core quota) gets the same score on every test. The early-exit
    part is the heaviest to grade; a mutant that fails some cases makes the comparison cover both
    outcomes."""
    import subprocess
    import sys

    from autograder.checks.mutants import load_variant

    variant = load_variant(REPO / "tests" / "mutants" / "early_exit" / "q3b_model" / "per_batch_exit.py")
    upload = reference_upload(tmp_path, "early_exit")
    target = upload / "hw12" / "early_exit.py"
    target.write_text(target.read_text() + "\n" + variant.code)
    root = make_root(tmp_path)
    quiet = simulate_upload(root, "early_exit", upload, tmp_path)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        loaded = simulate_upload(root, "early_exit", upload, tmp_path)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert 0 < quiet.score < quiet.max_score, "the mutant should fail some cases and pass others"
    assert _per_test_scores(loaded) == _per_test_scores(quiet)


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_python_313_grading_environment(part, gradescope_sim, tmp_path):
    """Gradescope's Python (3.13) with the regular torch build from the registry (make venv-313);
    that build carries CUDA, so the memory limit is lifted here."""
    env = REPO / ".venv-313"
    if not (env / "bin" / "python").exists():
        pytest.fail(f"{env} is missing: make venv-313 creates it")
    root = make_root(tmp_path)
    ref = simulate_upload(root, part, reference_upload(tmp_path, part), tmp_path,
                          memory_mb=None, cpus=0.5, python_env=env)
    assert _full_marks(ref), _failed(ref)
    stubs = simulate_upload(root, part, stub_upload(tmp_path, part), tmp_path,
                            memory_mb=None, cpus=0.5, python_env=env)
    assert stubs.score == 0 and stubs.max_score > 0

"""Shared fixtures: a throwaway grading root with its own config, and graded-upload helpers."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # make test runs several workers on the machine's cores: torch's own threads in each (and in
    # the notebook kernels they start) would oversubscribe the cores, slowing small ops many times
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def make_root(tmp: Path, edit=None) -> Path:
    """A grading root in ``tmp``: links to the repo's code and release, a config edited by ``edit``."""
    root = tmp / "root"
    root.mkdir()
    for name in ("autograder", "assignment", "solutions"):
        (root / name).symlink_to(REPO / name)
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    if edit is not None:
        edit(cfg)
    (root / "grading_config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def variant_upload(tmp: Path, module: str, code: str, name: str = "sub") -> Path:
    """The reference solutions with ``code`` appended to hw12/<module>.py."""
    dest = tmp / name
    shutil.copytree(REPO / "solutions" / "hw12", dest / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = dest / "hw12" / f"{module}.py"
    target.write_text(target.read_text() + "\n" + code)
    return dest


from autograder.grading.supervisor import RunnerPool  # noqa: E402

RUNNERS = RunnerPool()  # kept across the tests of this process, as a batch keeps them


@pytest.fixture(scope="session", autouse=True)
def _close_runners():
    yield
    RUNNERS.close()


def grade(root: Path, part: str, upload: Path, questions=None, **opts):
    """Grade ``upload`` with the grading root ``root``; return results.json as a dict."""
    from autograder.grading.config import load_config
    from autograder.grading.supervisor import GradeOptions, Layout, grade_part

    layout = Layout(root)
    cfg, cases = load_config(layout.config, layout.tests)
    selected = [c for c in cases[part] if questions is None or c.question in questions]
    return grade_part(layout, cfg, part, selected, upload, GradeOptions(**opts), pool=RUNNERS)


from autograder.grading.results import question_scores  # noqa: E402, F401 - re-exported: the grader's own


def only_questions(cfg: dict, part: str, keep: set[str]) -> None:
    """Keep only the questions ``keep`` of ``part`` (and only that part) in a raw config."""
    cfg["parts"] = {part: cfg["parts"][part]}
    qs = cfg["parts"][part]["questions"]
    cfg["parts"][part]["questions"] = {q: v for q, v in qs.items() if q in keep}


@pytest.fixture
def fast_root_q1a_q2a(tmp_path):
    """fast_root with only q1a (binary_diffusion) and q2a (gaussian_diffusion)."""
    def edit(cfg):
        cfg["defaults"]["time_limit_s"] = 4
        cfg["defaults"]["import_timeout_s"] = 4
        only_questions(cfg, "diffusion", {"q1a", "q2a"})
    return make_root(tmp_path, edit)


@pytest.fixture
def fast_root(tmp_path):
    """A grading root for the diffusion part with short limits, so hostile code is stopped quickly."""
    def edit(cfg):
        cfg["defaults"]["time_limit_s"] = 4
        cfg["defaults"]["import_timeout_s"] = 4
        only_questions(cfg, "diffusion", {"q1a", "q1b", "q1d", "q2a"})
    return make_root(tmp_path, edit)


# ---- the Gradescope simulation (autograder/checks/simulate.py) -------------------------------------------
_ZIPS: dict[tuple[str, str, str], Path] = {}


@pytest.fixture(scope="session")
def gradescope_sim():
    """Skip (with the reason) where the simulation cannot run; in CI (CI=true) fail instead."""
    import os

    from autograder.checks.simulate import (
        SimulationUnavailable,
        check_can_simulate,
        default_python_env,
    )

    try:
        check_can_simulate()
        if not (default_python_env() / "bin" / "python").exists():
            raise SimulationUnavailable(f"{default_python_env()} is missing (make venv-cpu)")
    except SimulationUnavailable as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Gradescope simulation, but it cannot: {e}")
        pytest.skip(f"Gradescope simulation unavailable: {e}")


def part_zip(root: Path, part: str, tmp: Path) -> Path:
    """The part's Gradescope zip built from grading root ``root`` (cached per config text)."""
    from autograder.build.zipgen import build_zip
    from autograder.grading.config import load_config
    from autograder.grading.supervisor import Layout

    layout = Layout(root)
    text = layout.config.read_text()
    key = (str(REPO), part, text)
    if key not in _ZIPS or not _ZIPS[key].exists():
        cfg, _ = load_config(layout.config, layout.tests)
        out = tmp / f"zip-{len(_ZIPS)}-{part}.zip"
        _ZIPS[key] = build_zip(root, part, cfg, yaml.safe_load(text), out)
    return _ZIPS[key]


def simulate_upload(root: Path, part: str, upload: Path, tmp: Path, **limits):
    """Run ``upload`` through the part's zip as Gradescope does; the result must be strict JSON."""
    from autograder.checks.simulate import simulate
    from autograder.grading.results import validate

    sim = simulate(part, upload, part_zip(root, part, tmp), **limits)
    assert sim.results is not None, f"{sim.results_error}\n{sim.log[-3000:]}"
    validate(sim.results)
    return sim


def stub_upload(tmp: Path, part: str) -> Path:
    """What a student who changed nothing uploads: the release's modules of ``part``."""
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    dest = tmp / "stubs" / "hw12"
    dest.mkdir(parents=True)
    for m in cfg["parts"][part]["modules"]:
        shutil.copyfile(REPO / "assignment" / "hw12" / f"{m}.py", dest / f"{m}.py")
    return dest.parent


def reference_upload(tmp: Path, part: str) -> Path:
    """The reference submission of ``part``: its modules and the files its notebook writes."""
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    dest = tmp / "reference"
    v = cfg["parts"][part]
    for rel in [f"hw12/{m}.py" for m in v["modules"]] + list(v.get("data_files", [])):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "solutions" / rel, dest / rel)
    return dest


@pytest.fixture
def listener():
    """A TCP listener on every address of this machine (127.0.0.1 included) that hands out the
    reference survival_prob to whoever connects; yields (port, the addresses that connected)."""
    import socket
    import threading

    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    seen: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            seen.append(addr)
            conn.sendall(b"def survival_prob(t, delta):\n    return (1 - 2 * delta) ** t\n")
            conn.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()

"""``python -m autograder record [--part P]``: re-record the reference notebook runs.

Two parts grade a file that a notebook writes, and the reference submission carries one; each file
holds the sha256 of the module that produced it and a replay of the first steps of its training
(``hw12/replay.py``), so after any edit of ``solutions/hw12/early_exit.py`` or
``solutions/hw12/rlhf.py`` the run must be recorded again:

* ``early_exit``: ``solutions/hw12_early_exit.ipynb`` at the reference size (``EARLY_EXIT_SIZE``)
  writes ``solutions/early_exit_answers.json``; its numbers, mapped by ``key_results``, go to
  ``solutions/written/q3b_reference_results.json``, from which ``build`` fills the key's Q3(b).
* ``rlhf``: ``solutions/hw12_rlhf.ipynb`` in quick mode writes ``solutions/submission_log.json``.
* ``diffusion``: nothing (its questions read no notebook output).

``--replay-only`` rewrites just the hash and the replay of the recorded files (what the notebook's
last cell adds) without training again: for an edit of ``hw12/replay.py`` or of code that the
training does not run.

Each notebook runs headless in a temporary copy of ``solutions/hw12/`` and the notebook
(``run_notebook``); ``benchmarks/*_figures.py`` use the same function to measure other sizes.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from autograder import ROOT as REPO

# The reference size of the early-exit run: the notebook's full-size models on 20,000 generated
# images for 6 epochs with no time cap (the environment, then EarlyExitConfig overrides).
EARLY_EXIT_SIZE = ({"HW12_QUICK": "0"},
                   {"n_train": 20000, "n_val": 5000, "epochs": 6, "max_train_seconds": 0})
RLHF_ENV = {"HW12_QUICK": "1"}  # the reference log is a quick-mode run


def execute_notebook(nb, cwd: Path, env: dict, timeout: int, allow_errors: bool = False):
    """Execute the notebook ``nb`` (an nbformat node) in a fresh kernel started in ``cwd``, with the
    environment variables ``env`` set for the kernel (a value of None removes that variable);
    returns ``nb`` with its outputs. This process's environment is restored afterwards."""
    from nbclient import NotebookClient

    backup = dict(os.environ)
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(backup)
    return nb


def run_notebook(package_dir: Path, notebook: str, output: str, env: dict, timeout: int) -> dict:
    """Execute ``package_dir/notebook`` next to a copy of ``package_dir/hw12`` and of the release's
    ``tests/`` (for the check cells), with ``env`` set (and MPLBACKEND=Agg, PYTHONPATH pointing at
    the copy); returns the parsed JSON file ``output`` it wrote."""
    import nbformat

    with tempfile.TemporaryDirectory() as td:
        work = Path(td)
        shutil.copytree(Path(package_dir) / "hw12", work / "hw12",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(Path(package_dir) / notebook, work / notebook)
        # the notebooks' check cells run the release's public checks (build writes them)
        shutil.copytree(REPO / "assignment" / "tests", work / "tests",
                        ignore=shutil.ignore_patterns("__pycache__"))
        execute_notebook(nbformat.read(work / notebook, as_version=4), work,
                         {**env, "MPLBACKEND": "Agg", "PYTHONPATH": str(work)}, timeout)
        return json.loads((work / output).read_text())


def run_early_exit(package_dir: Path, env: dict, overrides: dict, timeout: int) -> dict:
    """The early-exit notebook's answers file, with EarlyExitConfig ``overrides`` (passed through
    HW12_EARLY_EXIT_CONFIG, which ``EarlyExitConfig.from_env`` reads; progress bars off)."""
    env = {**env, "HW12_EARLY_EXIT_CONFIG": json.dumps({"progress": False, **overrides})}
    return run_notebook(package_dir, "hw12_early_exit.ipynb", "early_exit_answers.json", env,
                        timeout)


def run_rlhf(package_dir: Path, env: dict, timeout: int) -> dict:
    """The RLHF notebook's ``submission_log.json``."""
    return run_notebook(package_dir, "hw12_rlhf.ipynb", "submission_log.json", env, timeout)


def _or_nan(value):
    """The 3b-vi entries are null when no threshold beats the smaller ResNet."""
    return float("nan") if value is None else value


def key_results(ans: dict) -> dict:
    """An early-exit answers file mapped onto the names of ``derivations.EXPERIMENT_KEYS``."""
    vi = ans["q3b_vi"]
    return {
        "q3b_threshold": ans["q3b_ii"]["threshold"],
        "q3b_baseline_accuracy": ans["q3b_i"]["baseline_accuracy"],
        "q3b_early_exit_accuracy": ans["q3b_ii"]["early_exit_accuracy"],
        "q3b_early_exit_rate": ans["q3b_iii"]["early_exit_rate"],
        "q3b_confidence_early": ans["q3b_iii"]["confidence_early"],
        "q3b_confidence_full": ans["q3b_iii"]["confidence_full"],
        "q3b_mac_ratio": ans["q3b_iv"]["mac_ratio"],
        "q3b_mac_spike_threshold": ans["q3b_iv"]["spike_threshold"],
        "q3b_small_accuracy": ans["q3b_v"]["small_accuracy"],
        "q3b_min_threshold": _or_nan(vi["min_threshold"]),
        "q3b_min_threshold_accuracy": _or_nan(vi["accuracy_at_min_threshold"]),
        "q3b_min_threshold_mac_ratio": _or_nan(vi["mac_ratio_at_min_threshold"]),
        # the sweep and the MAC counts, from which the build derives the key's Q3(b)iv facts
        "sweep": {"thresholds": ans["sweep"]["thresholds"], "mac_ratio": ans["sweep"]["mac_ratio"]},
        "macs": {"baseline": ans["macs"]["baseline"],
                 "early_exit_full": ans["macs"]["early_exit_cumulative"][-1]},
    }


def record_early_exit(root: Path, timeout: int) -> list[Path]:
    env, overrides = EARLY_EXIT_SIZE
    t0 = time.perf_counter()
    ans = run_early_exit(root / "solutions", env, overrides, timeout)
    wall = time.perf_counter() - t0
    answers = root / "solutions" / "early_exit_answers.json"
    answers.write_text(json.dumps(ans, indent=2) + "\n")
    results = {**key_results(ans), "_run": {"size": "cpu", "overrides": overrides,
                                            "device": ans.get("device"), "wall_s": round(wall)}}
    measured = root / "solutions" / "written" / "q3b_reference_results.json"
    measured.write_text(json.dumps(results, indent=2) + "\n")
    return [answers, measured]


def record_rlhf(root: Path, timeout: int) -> list[Path]:
    log = run_rlhf(root / "solutions", RLHF_ENV, timeout)
    dest = root / "solutions" / "submission_log.json"
    dest.write_text(json.dumps(log, indent=1) + "\n")
    return [dest]


RECORDERS = {"early_exit": record_early_exit, "rlhf": record_rlhf, "diffusion": None}
LOGS = {"early_exit": ("early_exit_answers.json", "early_exit"), "rlhf": ("submission_log.json", "rlhf")}


def recorded_hash(part: str, data) -> str | None:
    """The module hash that ``part``'s recorded file holds (where its notebook's last cell puts it:
    ``module_sha256`` in the early-exit answers, ``code.sha256`` in the RLHF log)."""
    if not isinstance(data, dict):
        return None
    found = data.get("module_sha256") if part == "early_exit" else (data.get("code") or {}).get("sha256")
    return found if isinstance(found, str) else None


def source_sha256(root: Path, module: str) -> str:
    """The hash of ``solutions/hw12/<module>.py`` by the given code's own function
    (``hw12/code_hash.py``, loaded from its file: one definition of the hash)."""
    import importlib.util

    path = Path(root) / "solutions" / "hw12" / "code_hash.py"
    spec = importlib.util.spec_from_file_location("_hw12_code_hash", path)
    code_hash = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code_hash)
    return code_hash.file_sha256(Path(root) / "solutions" / "hw12" / f"{module}.py")


def stale_recordings(root: Path) -> list[str]:
    """A sentence for each recorded file whose module hash is not the reference module's: the
    reference submission would lose its log question until the run is recorded again."""
    out = []
    for part, (file, module) in sorted(LOGS.items()):
        path = Path(root) / "solutions" / file
        try:
            recorded = recorded_hash(part, json.loads(path.read_text()))
        except (OSError, ValueError):
            recorded = None
        if recorded != source_sha256(root, module):
            out.append(f"{part}: solutions/{file} was recorded with another solutions/hw12/"
                       f"{module}.py, so the reference would lose its log points: run `python -m "
                       f"autograder record --part {part}` (or add --replay-only when the training "
                       "runs none of what changed, e.g. a new function; docs/AUTHORING.md §5)")
    return out


def record_replay(root: Path, part: str) -> list[Path]:
    """Rewrite the module hash and the replay of ``part``'s recorded file, as its notebook's last
    cell would with the current ``solutions/hw12`` (run in a fresh interpreter)."""
    import subprocess
    import sys

    from autograder.checks.validate import RECORD_SCRIPT

    file, module = LOGS[part]
    subprocess.run([sys.executable, "-c", RECORD_SCRIPT, str(root / "solutions"), module, file],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    path = root / "solutions" / file
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2 if part == "early_exit" else 1)
                    + "\n")
    return [path]


def record(root: Path, parts: list[str] | None = None, timeout: int = 7200,
           replay_only: bool = False) -> int:
    """Record ``parts`` (default: all) and print what was written; the exit status."""
    for part in parts or sorted(RECORDERS):
        recorder = RECORDERS[part]
        if replay_only and recorder is not None:
            recorder = lambda root, _timeout, part=part: record_replay(root, part)  # noqa: E731
        if recorder is None:
            print(f"{part}: nothing to record (its questions read no notebook output)")
            continue
        t0 = time.perf_counter()
        written = recorder(Path(root), timeout)
        print(f"{part}: wrote {', '.join(str(p.relative_to(root)) for p in written)} "
              f"in {time.perf_counter() - t0:.0f} s")
    if (parts is None or "early_exit" in parts) and not replay_only:
        print("run `python -m autograder build` to carry the Q3(b) numbers into the answer key")
    return 0

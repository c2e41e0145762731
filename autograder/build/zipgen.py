"""Gradescope autograder zips: ``otter generate`` builds the image set-up, we replace its entry point.

Layout of ``dist/gradescope/<part>.zip`` (unpacked by Gradescope into /autograder/source):

    setup.sh            otter's image set-up (conda env ``otter-env``, Python 3.13) + ours appended:
                        CPU-only torch, then setup_local.sh
    setup_local.sh      the local steps (no installs): the unprivileged sandbox user, a locked-down
                        source folder; also run by ``python -m autograder simulate``
    run_autograder      ours: runs ``python -m autograder.grading.gradescope --part <part>``
    environment.yml     otter's, with the part's pinned grading requirements
    otter_config.json   otter's
    run_otter.py        otter's
    files/              grading_config.yaml (this part only), autograder/ (exactly the grading
                        code this part runs, and its tests, GPU-tier files included, which the
                        config names and the CPU run skips: ``imports.grading_files``),
                        assignment/hw12/ (the whole release package: every part's stubs and the
                        given support code the student's modules are overlaid on)

Entries are written sorted with a fixed timestamp, so building twice gives identical bytes.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from autograder.build.imports import grading_files

FIXED_TIME = (2023, 5, 3, 0, 0, 0)
# Grading needs no more than this (never torchvision, transformers only for parts that ask for it).
BASE_REQUIREMENTS = ["numpy==2.4.6", "scipy==1.17.1", "hypothesis==6.170.15", "pydantic==2.14.3",
                     "PyYAML==6.0.3", "jsonschema==4.26.0", "pyseccomp==0.1.2"]

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Grades $AG/submission for one part; the grader itself guarantees $AG/results/results.json.
# AG (AUTOGRADER_ROOT) and HW12_SANDBOX_USER may be overridden outside Gradescope: the simulation
# gives every run its own sandbox user, so that runs side by side never touch each other.
AG=${{AUTOGRADER_ROOT:-/autograder}}
SANDBOX_USER=${{HW12_SANDBOX_USER-{user}}}
if [ -x /root/miniforge3/bin/mamba ]; then
  export PATH=/root/miniforge3/bin:$PATH
  eval "$(mamba shell hook --shell bash)"
  mamba activate otter-env
fi
USER_ARGS=()
if [ -n "$SANDBOX_USER" ] && id -u "$SANDBOX_USER" >/dev/null 2>&1; then
  USER_ARGS=(--sandbox-user "$SANDBOX_USER")
elif [ -n "$SANDBOX_USER" ]; then
  echo "warning: user $SANDBOX_USER is missing; student code runs as $(id -un)" >&2
fi
cd "$AG/source/files"
python -m autograder.grading.gradescope --part {part} "${{USER_ARGS[@]}}" \\
  --submission "$AG/submission" --results "$AG/results/results.json"
if [ ! -s "$AG/results/results.json" ]; then
  mkdir -p "$AG/results"
  printf '%s\\n' '{{"score": 0, "output": "The autograder could not start; please tell the course staff.", "tests": []}}' > "$AG/results/results.json"
fi
"""

SETUP_APPEND = """
# ---- HW12 additions ----
# CPU-only torch: a third of the CUDA build's memory once imported (Gradescope gives 768 MB).
mamba run -n otter-env pip install --no-cache-dir --index-url {index} torch=={torch}
# The local steps (sandbox user, permissions), shared with `python -m autograder simulate`.
bash /autograder/source/setup_local.sh
"""

SETUP_LOCAL = """#!/usr/bin/env bash
# Local steps of the image set-up, after the installs: setup.sh runs this on Gradescope, and
# `python -m autograder simulate` runs it in an /autograder-shaped folder (AUTOGRADER_ROOT).
set -euo pipefail
AG=${{AUTOGRADER_ROOT:-/autograder}}
SANDBOX_USER=${{HW12_SANDBOX_USER:-{user}}}
# Student code runs as an unprivileged user that cannot read the tests or write the results.
id -u "$SANDBOX_USER" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$SANDBOX_USER"
# The user's Python lives under /root (conda on Gradescope): let it through, not list it.
chmod 711 /root
chmod -R go-rwx "$AG/source"
mkdir -p "$AG/results"
chmod 755 "$AG/results"
"""


def _stage_source(root: Path, part: str, cfg_raw: dict, staging: Path) -> list[str]:
    """Copy what the zip's files/ folder holds into ``staging``; return the names to pass."""
    files = staging
    for path in grading_files(root, [part]):  # exactly what grading the part imports or reads
        dest = files / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    shutil.copytree(root / "assignment" / "hw12", files / "assignment" / "hw12",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    one_part = dict(cfg_raw, parts={part: cfg_raw["parts"][part]})
    (files / "grading_config.yaml").write_text(yaml.safe_dump(one_part, sort_keys=False))
    return ["autograder", "assignment", "grading_config.yaml"]


def _normalise(raw_zip: bytes, part: str, user: str, index: str, torch: str) -> bytes:
    """Rewrite otter's zip: our run_autograder, setup additions, sorted entries, fixed times."""
    entries = {}
    with zipfile.ZipFile(io.BytesIO(raw_zip)) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                entries[info.filename] = zf.read(info)
    entries["run_autograder"] = RUN_AUTOGRADER.format(part=part, user=user).encode()
    entries["setup.sh"] = entries["setup.sh"] + SETUP_APPEND.format(
        index=index, torch=torch).encode()
    entries["setup_local.sh"] = SETUP_LOCAL.format(user=user).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            executable = name in ("run_autograder", "setup.sh", "setup_local.sh")
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name])
    return out.getvalue()


def build_zip(root: Path, part: str, cfg, cfg_raw: dict, out_path: Path) -> Path:
    """Build ``out_path`` for ``part`` with ``otter generate``; return the path."""
    gs = cfg.gradescope
    with tempfile.TemporaryDirectory(prefix=f"hw12-zip-{part}-") as tmp:
        staging = Path(tmp)
        support = _stage_source(root, part, cfg_raw, staging)
        (staging / "otter_tests").mkdir()  # tests live in files/autograder/tests, run by our grader
        reqs = BASE_REQUIREMENTS + list(cfg.parts[part].requirements)
        (staging / "requirements.txt").write_text("\n".join(reqs) + "\n")
        otter = Path(sys.executable).with_name("otter")
        cmd = [str(otter) if otter.exists() else "otter", "generate", "--tests-dir", "otter_tests",
               "--output-path", "autograder.zip", "--requirements", "requirements.txt",
               "--python-version", gs.python_version, "--no-config", "--no-environment", *support]
        env = dict(os.environ, PYTHONHASHSEED="0")
        proc = subprocess.run(cmd, cwd=staging, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"otter generate failed for {part}:\n{proc.stdout}\n{proc.stderr}")
        data = _normalise((staging / "autograder.zip").read_bytes(), part, gs.sandbox_user,
                          gs.torch_index_url, gs.torch_version)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not out_path.exists() or out_path.read_bytes() != data:
        out_path.write_bytes(data)
    return out_path

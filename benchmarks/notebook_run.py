"""Run one notebook of a package directory headless and return the JSON file it writes.

Used by the figure scripts (rlhf_figures.py, early_exit_figures.py): ``hw12/`` and the notebook are
copied to a temporary folder, every cell runs with the given environment variables set (and
MPLBACKEND=Agg, PYTHONPATH pointing at the copy), and the notebook's output file is read back.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def run_notebook(package_dir: Path, notebook: str, output: str, env: dict, timeout: int):
    """Execute ``package_dir/notebook``; returns the parsed JSON of the ``output`` file it wrote."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as td:
        work = Path(td)
        shutil.copytree(Path(package_dir) / "hw12", work / "hw12",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(Path(package_dir) / notebook, work / notebook)
        backup = dict(os.environ)
        os.environ.update(env, MPLBACKEND="Agg", PYTHONPATH=str(work))
        try:
            nb = nbformat.read(work / notebook, as_version=4)
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(work)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(backup)
        return json.loads((work / output).read_text())

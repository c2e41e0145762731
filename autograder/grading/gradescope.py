"""``python -m autograder.grading.gradescope --part P``: the entry point inside the Gradescope image.

What ``run_autograder`` runs: it grades ``/autograder/submission`` for one part and never exits
without a valid ``results.json``. It imports only grading code (``autograder/build/imports.py`` computes
what the zip carries from here), never the staff tools.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograder import ROOT
from autograder.grading.config import load_config
from autograder.grading.results import failure_results, reserve_results, write_results
from autograder.grading.sandbox.cleanup import scratch_dir
from autograder.grading.sandbox.confinement import Policy
from autograder.grading.supervisor import GradeOptions, Layout, grade_part, protect_from_oom_killer
from autograder.grading.uploads import UploadError, open_upload


def grade_upload_for_gradescope(part: str, sandbox_user: str | None, submission: Path,
                                results: Path) -> int:
    """Grade ``submission`` for ``part`` into ``results``; 0 whatever happens (the file then says
    what went wrong, in the student's terms)."""
    t0 = time.monotonic()
    try:
        reserve_results(results, failure_results(  # first: the student cannot fill the disk
            "The autograder did not finish grading (it was stopped, or the machine failed); your "
            "code may not be at fault. Please tell the course staff.", 0.0))
        layout = Layout(ROOT)
        cfg, cases = load_config(layout.config, layout.tests)
        os.umask(0o077)
        protect_from_oom_killer()
        hide_earlier_results(submission)
        # Namespaces where the container allows them, else the sandbox user behind a seccomp
        # filter; HW12_NAMESPACES=off forces the latter (the simulation tests both).
        namespaces = "off" if os.environ.get("HW12_NAMESPACES") == "off" else "auto"
        opts = GradeOptions(tier="cpu", policy=Policy(namespaces=namespaces, user=sandbox_user))
        with scratch_dir("hw12-upload-") as tmp:
            try:
                upload = open_upload(submission, Path(tmp), cfg.parts[part].modules)
            except UploadError:  # graded as it is: each missing file then says what to upload
                upload = submission
            data = grade_part(layout, cfg, part, cases[part], upload, opts)
        write_results(data, results)
        print(data["output"])
        return 0
    except BaseException as e:  # noqa: BLE001 - whatever happens, Gradescope gets a results.json
        import traceback

        traceback.print_exc()  # for staff: the autograder's stdout is hidden from students
        msg = (f"The autograder failed before it could grade everything ({type(e).__name__}: {e}). "
               "Your code was not at fault if this message mentions the autograder; please tell "
               "the course staff.")
        write_results(failure_results(msg, time.monotonic() - t0), results)
        return 0


def hide_earlier_results(submission: Path) -> None:
    """``submission_metadata.json`` (beside the upload on Gradescope) holds the student's earlier
    submissions and their results, hidden ones included: root's alone, before any student code runs."""
    meta = submission.parent / "submission_metadata.json"
    try:
        if meta.is_file() and not meta.is_symlink() and os.geteuid() == 0:
            os.chown(meta, 0, 0)
            os.chmod(meta, 0o600)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograder.grading.gradescope", description=__doc__.split("\n")[0])
    ap.add_argument("--part", required=True)
    ap.add_argument("--sandbox-user", default=None)
    ap.add_argument("--submission", default="/autograder/submission")
    ap.add_argument("--results", default="/autograder/results/results.json")
    args = ap.parse_args(argv)
    return grade_upload_for_gradescope(args.part, args.sandbox_user, Path(args.submission),
                                       Path(args.results))


if __name__ == "__main__":
    sys.exit(main())

"""What each code part of the homework grades and what you upload for it.

``python -m hw12.export PART`` zips the part's ``files``; ``hw12.check`` runs the public checks of
its ``questions``; the notebooks and the README say the same. ``python -m autograder build``
generates this file from the course's grading configuration (grading_config.yaml): do not edit it
by hand.
"""
from __future__ import annotations

PARTS = {
    "diffusion": {
        "assignment": "Homework 12 (Code) (Diffusion)",
        "notebook": "hw12_diffusion.ipynb",
        "files": ["hw12/binary_diffusion.py", "hw12/gaussian_diffusion.py"],
        "questions": ["q1a", "q1b", "q1c", "q1d", "q1e", "q2a", "q2b"],
    },
    "early_exit": {
        "assignment": "Homework 12 (Code) (Early exit)",
        "notebook": "hw12_early_exit.ipynb",
        "files": ["hw12/early_exit.py", "early_exit_answers.json"],
        "questions": ["q3a", "q3b_model", "q3b_loss", "q3b_macs", "q3b_eval", "q3b_threshold",
                      "q3b_answers"],
    },
    "rlhf": {
        "assignment": "Homework 12 (Code) (RLHF)",
        "notebook": "hw12_rlhf.ipynb",
        "files": ["hw12/rlhf.py", "submission_log.json"],
        "questions": ["q4_logprobs", "q4_pg_loss", "q4_rm_loss", "q4_kl_rewards", "q4_log"],
    },
}


def zip_name(part: str) -> str:
    """The file ``python -m hw12.export PART`` writes."""
    return f"hw12_{part}_submission.zip"

"""Before grades are published a student sees only the public cases' results: the visible top-level
output counts public cases only, every hidden case and the full per-question table are hidden until
publication, and staff still get the full table."""
from __future__ import annotations

import re

from conftest import grade, make_root, only_questions, variant_upload

from autograder.grading.results import SUMMARY_TAG, question_scores, staff_view

# q1e's loss averaged over pixels instead of summed: fails some public and some hidden cases
MEAN_NOT_SUM = '''
def diffusion_loss(logits, y_t, x0, t, delta):
    import torch
    p = posterior_prob_plus(y_t, x0, t, delta)
    q = torch.sigmoid(logits)
    kl = bernoulli_kl(p, q)
    return kl.flatten(1).mean(1).mean()
'''


def _row(text: str, question: str) -> tuple[float, float]:
    m = re.search(rf"^{question}\s.*?(\d+\.\d+)/(\d+\.\d+)", text, re.M)
    assert m, f"no row for {question} in:\n{text}"
    return float(m.group(1)), float(m.group(2))


def test_visible_output_counts_public_cases_only(tmp_path):
    def edit(cfg):
        only_questions(cfg, "diffusion", {"q1e"})
    root = make_root(tmp_path, edit)
    results = grade(root, "diffusion", variant_upload(tmp_path, "binary_diffusion", MEAN_NOT_SUM))
    scored = [t for t in results["tests"] if "max_score" in t]
    public = [t for t in scored if t["visibility"] == "visible"]
    hidden = [t for t in scored if t["visibility"] != "visible"]
    assert public and hidden, "q1e has public and hidden cases"
    assert any(t["score"] > 0 for t in hidden), "the mutant keeps some hidden points (else no check)"
    got, top = _row(results["output"], "q1e")
    assert (got, top) == (sum(t["score"] for t in public), sum(t["max_score"] for t in public))
    assert "hidden tests are graded too" in results["output"]
    summary = [t for t in results["tests"] if t.get("tags") == [SUMMARY_TAG]]
    assert len(summary) == 1 and summary[0]["visibility"] == "after_published"
    assert _row(staff_view(results), "q1e") == question_scores(results)["q1e"]
    assert all(t["visibility"] == "after_published" for t in hidden)

"""grading_config.yaml: the real file loads; each kind of mistake is refused with its line."""
from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO

from autograder.grading.config import ConfigError, load_config, scan_test_file

CONFIG = (REPO / "grading_config.yaml").read_text()
TESTS = REPO / "autograder" / "tests"


def test_real_config_loads_and_points_add_up():
    cfg, cases = load_config(REPO / "grading_config.yaml", TESTS)
    for part, part_cases in cases.items():
        for q, question in cfg.parts[part].questions.items():
            total = sum(c.points for c in part_cases if c.question == q)
            assert total == pytest.approx(question.points), (part, q)
    ids = [c.id for cs in cases.values() for c in cs]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    seeds = [c.seed for cs in cases.values() for c in cs]
    assert len(set(seeds)) == len(seeds), "every case gets its own seed"


def _broken(tmp_path, old: str, new: str):
    assert old in CONFIG, f"fixture text {old!r} no longer in grading_config.yaml"
    path = tmp_path / "grading_config.yaml"
    path.write_text(CONFIG.replace(old, new, 1))
    return path, CONFIG.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old,new,needle,expect", [
    ("  time_limit_s: 30", "  time_limt_s: 30", "time_limt_s", "Extra inputs are not permitted"),
    ("  seed: 182", "  seed: many", "seed: many", "valid integer"),
    ("points: 2\n", "points: 7\n", "points: 7", "test cases add up to"),
    ("public: public/q1a.py", "public: public/q1a_missing.py", "q1a_missing", "does not exist"),
    ("        public: public/q1a.py", "        tier: tpu\n        public: public/q1a.py", "tier: tpu",
     "Input should be 'cpu' or 'gpu'"),
    ("modules: [binary_diffusion, gaussian_diffusion]", "modules: binary_diffusion",
     "modules: binary_diffusion", "valid list"),
])
def test_mistakes_are_refused_with_their_line(tmp_path, old, new, needle, expect):
    path, text = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(path, TESTS)
    message = str(err.value)
    assert expect in message
    line = int(re.search(r"grading_config\.yaml:(\d+):", message).group(1))
    assert line == _line_of(text, needle) or expect == "test cases add up to"


def test_invalid_yaml_is_refused(tmp_path):
    path = tmp_path / "grading_config.yaml"
    path.write_text(CONFIG + "\n  - : [unbalanced\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, TESTS)


def test_hidden_flag_must_match_the_folder(tmp_path):
    public = tmp_path / "t" / "p" / "public"
    public.mkdir(parents=True)
    (public / "q.py").write_text(
        "from otter.test_files import test_case\n"
        "@test_case(points=1, hidden=True)\ndef test_x(m):\n    pass\n")
    cfg = {"version": 1, "gradescope": {"torch_index_url": "x"},
           "parts": {"p": {"title": "P", "modules": ["m"],
                           "questions": {"q": {"title": "Q", "points": 1, "public": "public/q.py"}}}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="hidden=True but the file is listed as public"):
        load_config(path, tmp_path / "t")


def test_every_test_case_has_positive_or_shared_points_and_a_message_bearing_body():
    for f in sorted(TESTS.glob("*/*/*.py")):
        scanned = scan_test_file(f)
        assert scanned, f"{f} defines no test case"
        for name, points, hidden, _ in scanned:
            assert points is None or points > 0, f"{f}:{name}"
            assert hidden == (f.parent.name == "hidden"), f"{f}:{name} hidden flag vs folder"


def test_build_names_every_piece_a_new_question_lacks(tmp_path):
    """A question added to the config with only a public case: the build's completeness check
    names the hidden case, the check cell, the mutant and the key section it lacks; the project's
    own questions lack nothing."""
    import shutil

    import yaml

    from autograder.build.question_index import missing_pieces

    root = tmp_path / "root"
    root.mkdir()
    for name in ("assignment", "solutions", "tests"):
        (root / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "autograder", root / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert missing_pieces(REPO) == []
    cfg = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    cfg["parts"]["rlhf"]["questions"]["q7_entropy"] = {
        "title": "4 entropy bonus", "points": 1, "public": "public/q7_entropy.py"}
    (root / "grading_config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / "autograder" / "tests" / "rlhf" / "public" / "q7_entropy.py").write_text(
        'from otter.test_files import test_case\n\nOK_FORMAT = False\nname = "q7_entropy"\n'
        'points = None\n\n\n@test_case(points=1, hidden=False)\n'
        'def test_entropy(rlhf):\n    assert rlhf.sequence_log_probs is not None\n')
    missing = missing_pieces(root)
    assert [m for m in missing if not m.startswith("rlhf/q7_entropy ")] == [], missing
    text = "\n".join(missing)
    for piece in ("a hidden case", 'grader.check("q7_entropy")', "a mutant in tests/mutants/rlhf/q7_entropy/",
                  "a section of the answer key"):
        assert piece in text, (piece, text)


def test_new_question_scaffolds_every_piece_and_build_names_each_todo(tmp_path):
    """``new-question`` writes every file a question needs as TODO placeholders (and changes no
    existing question); build's hw12/parts.py then lists it; the completeness check names each TODO
    until it is filled."""
    import json
    import shutil

    from autograder.build.parts import RELATIVE, write_parts
    from autograder.build.question_index import SCAFFOLD_MARK, missing_pieces
    from autograder.build.scaffold import ScaffoldError, new_question
    from autograder.grading.config import load_config

    root = tmp_path / "root"
    (root / "tests").mkdir(parents=True)
    for name in ("solutions", "autograder"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tests" / "mutants", root / "tests" / "mutants")
    shutil.copy(REPO / "grading_config.yaml", root / "grading_config.yaml")
    (root / "assignment").symlink_to(REPO / "assignment")
    before = yaml.safe_load((REPO / "grading_config.yaml").read_text())
    parts_before = (root / RELATIVE).read_text()

    written = new_question(root, "rlhf", "q4_entropy", "entropy_bonus", points=3)
    assert len(written) == 7 and root / RELATIVE not in written
    assert (root / RELATIVE).read_text() == parts_before, "parts.py is build's to write"
    cfg, cases = load_config(root / "grading_config.yaml", root / "autograder" / "tests")
    assert cfg.parts["rlhf"].questions["q4_entropy"].points == 3
    assert sum(c.points for c in cases["rlhf"] if c.question == "q4_entropy") == 3
    after = yaml.safe_load((root / "grading_config.yaml").read_text())
    after["parts"]["rlhf"]["questions"].pop("q4_entropy")
    assert after == before, "the scaffold changed something else in the config"
    nb = json.loads((root / "solutions" / "hw12_rlhf.ipynb").read_text())
    cell = next(c for c in nb["cells"] if 'grader.check("q4_entropy")' in "".join(c["source"]))
    assert cell["id"] == "check-q4_entropy" and "entropy_bonus" in "".join(cell["source"])
    assert write_parts(root, cfg)  # what build does before it copies solutions/ to the release
    assert '"q4_entropy"],' in (root / RELATIVE).read_text()  # rlhf's last question
    with pytest.raises(ScaffoldError, match="already has"):
        new_question(root, "rlhf", "q4_entropy", "entropy_bonus")

    # the scaffold's function changed rlhf.py, so the recorded reference log is stale
    stale = ["rlhf: solutions/submission_log.json was recorded with another solutions/hw12/rlhf.py"]
    missing = missing_pieces(root)
    assert [m[:len(stale[0])] for m in missing if SCAFFOLD_MARK not in m] == [
        "rlhf/q4_entropy: entropy_bonus is not in __all__ of solutions/hw12/rlhf.py"[:len(stale[0])],
        stale[0]], missing
    assert "record --part rlhf" in missing[-1]
    text = "\n".join(missing)
    for where in ("public/q4_entropy.py", "hidden/q4_entropy.py", "entropy_bonus_wrong.py",
                  "title in grading_config.yaml", "solutions/hw12/rlhf.py", "rlhf_oracles.py",
                  "hw12_rlhf.ipynb"):
        assert where in text, (where, text)
    for path in written:  # the TA fills every placeholder
        path.write_text(path.read_text().replace(SCAFFOLD_MARK, "filled in"))
    module = root / "solutions" / "hw12" / "rlhf.py"
    assert [m[:len(stale[0])] for m in missing_pieces(root)] == [
        "rlhf/q4_entropy: entropy_bonus is not in __all__ of solutions/hw12/rlhf.py"[:len(stale[0])],
        stale[0]]
    exported = module.read_text().replace('"sequence_log_probs", ', '"entropy_bonus", ', 1)
    assert exported != module.read_text(), "the test's edit of __all__ did not apply"
    module.write_text(exported)  # the TA adds entropy_bonus to __all__, and drops another name
    assert [m[:len(stale[0])] for m in missing_pieces(root)] == [
        "rlhf/q4_logprobs: sequence_log_probs is not in __all__ of solutions/hw12/rlhf.py"[:len(stale[0])],
        stale[0]]



def test_cases_that_state_no_points_share_what_the_others_leave(tmp_path):
    """Points of a question split among its cases from the config unless a case states its own;
    stated points that leave nothing, or (all stated) do not add up, are an error."""
    from autograder.grading.config import ConfigError

    tests = tmp_path / "t" / "p"
    (tests / "public").mkdir(parents=True)
    (tests / "public" / "q1.py").write_text(
        "from otter.test_files import test_case\n\n@test_case(hidden=False)\ndef test_a(m):\n"
        "    pass\n\n@test_case(points=None, hidden=False)\ndef test_b(m):\n    pass\n\n"
        "@test_case(points=1, hidden=False)\ndef test_c(m):\n    pass\n")
    for points, shares in ((5, {"test_a": 2.0, "test_b": 2.0, "test_c": 1.0}), (1, None)):
        path = tmp_path / "grading_config.yaml"
        path.write_text(yaml.safe_dump({
            "version": 1, "gradescope": {"torch_index_url": "x"},
            "parts": {"p": {"title": "P", "modules": ["m"], "questions": {
                "q1": {"title": "Q1", "points": points, "public": "public/q1.py"}}}}}))
        if shares is None:
            with pytest.raises(ConfigError, match="leaves nothing"):
                load_config(path, tmp_path / "t")
            continue
        _, cases = load_config(path, tmp_path / "t")
        assert {c.function: c.points for c in cases["p"]} == shares

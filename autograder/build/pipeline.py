"""``python -m autograder build``: everything generated from the sources, in order: the written
part and the key, the release (assignment/), the PDFs, the question index, the completeness check
of every graded question, then one Gradescope zip per part (dist/gradescope/)."""
from __future__ import annotations

from pathlib import Path

import yaml

from autograder.build.question_index import missing_pieces, write_index
from autograder.build.release import build_release
from autograder.build.written import render_written, write_key, write_pdfs
from autograder.build.zipgen import build_zip
from autograder.grading.supervisor import Layout


class BuildError(Exception):
    """The sources cannot be built as they are (the message says why)."""


def part_zip(root: Path, part: str, cfg) -> Path:
    """Build ``dist/gradescope/<part>.zip`` from the sources; its path."""
    raw = yaml.safe_load(Layout(root).config.read_text())
    return build_zip(root, part, cfg, raw, root / "dist" / "gradescope" / f"{part}.zip")


def build(root: Path, cfg, cases, zips: bool = True) -> int:
    """Build everything, printing a line per output; 1 if a graded question is incomplete (its
    missing pieces printed), else 0."""
    layout = Layout(root)
    public = sorted({c.file for part in cases.values() for c in part if c.visibility == "public"})
    names = [p.name for p in public]
    if len(names) != len(set(names)):
        raise BuildError("two public test files share a name; the release keeps them in one folder")
    questions, key = render_written(root)
    files = build_release(root, layout.release, layout.tests, public, questions)
    print(f"assignment/: {len(files)} files")
    if key is not None:
        print(f"{write_key(root, key).relative_to(root)}: answer key")
    if questions is not None:
        for pdf in write_pdfs(layout.release, root, questions, key):
            print(f"{pdf.relative_to(root)}: {pdf.stat().st_size // 1024} KiB")
    print(f"{write_index(root).relative_to(root)}: question index")
    missing = missing_pieces(root)
    for line in missing:
        print(f"missing: {line}")
    if missing:
        print("build: a graded question is incomplete (docs/AUTHORING.md, 'A new question')")
        return 1
    for part in cfg.parts if zips else ():
        path = part_zip(root, part, cfg)
        print(f"{path.relative_to(root)}: {path.stat().st_size // 1024} KiB")
    return 0

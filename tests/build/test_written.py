"""The written part as it is handed out: handout, answer template and key as PDFs, and Markdown
whose display math survives a plain CommonMark renderer.

The PDFs are rebuilt here from the sources (pandoc + Typst, as `python -m autograder build` does),
compared byte for byte with the committed ones, rendered page by page to PNG, and read back as text.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import REPO
from markdown_it import MarkdownIt
from PIL import Image
from pypdf import PdfReader

from autograder.build import written

RELEASE = REPO / "assignment"
SOURCE = REPO / written.SOURCE

# the homework's written questions, numbered as the 2023 handout numbers them
LABELS = (["Q1(a)", "Q1(b)", "Q1(c)", "Q1(d)", "Q1(e)", "Q2(a)", "Q2(b)"]
          + [f"Q3(a) {r}" for r in ("i", "ii", "iii", "iv")]
          + [f"Q3(b) {r}" for r in ("i", "ii", "iii", "iv", "v", "vi")]
          + ["Q4(a)", "Q4(b)", "Q5(a)", "Q5(b)", "Q5(c)"])

# what must never reach a page: TeX commands, math delimiters, placeholders, and Typst or LaTeX
# names that show up as words when a formula is not turned into math
RAW = re.compile(r"\\[A-Za-z]+|\$|\{\{|#(?:scale|h|strong|emph)\b"
                 r"|\b(?:frac|sqrt|upright|mathbf|mathrm|mathcal|mathbb|boldsymbol|operatorname|parallel"
                 r"|tfrac|dfrac|bigl|bigr|underbrace|overline|macron)\b"
                 r"|\b(?:cases|lr|bold|cal|bb|abs|norm|op|vec|mat|display)\(")


@pytest.fixture(scope="module")
def markdown():
    questions, key = written.render_written(REPO)
    return {"source": SOURCE.read_text(encoding="utf-8"), "release": questions, "key": key}


@pytest.fixture(scope="module")
def sources(markdown):
    return written.typst_sources(markdown["release"], markdown["key"])


@pytest.fixture(scope="module")
def built(tmp_path_factory, markdown):
    """The three PDFs built twice into fresh folders, as `build` writes them."""
    runs = []
    for n in range(2):
        root = tmp_path_factory.mktemp(f"written{n}")
        paths = written.write_pdfs(root / "assignment", root, markdown["release"], markdown["key"])
        runs.append({p.name: p.read_bytes() for p in paths})
    return runs


def _text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


# ------------------------------------------------------------------------------------------------
# the files and their bytes
# ------------------------------------------------------------------------------------------------
def test_build_writes_the_three_pdfs_and_they_are_committed(built):
    names = {"hw12_written.pdf": RELEASE / written.HANDOUT_PDF,
             "hw12_answer_template.pdf": RELEASE / written.TEMPLATE_PDF,
             "hw12_key.pdf": REPO / written.KEY_PDF}
    assert set(built[0]) == set(names)
    for name, committed in names.items():
        assert built[0][name][:5] == b"%PDF-", name
        assert committed.exists(), f"{committed} is missing: run `python -m autograder build`"
        assert committed.read_bytes() == built[0][name], \
            f"{committed.relative_to(REPO)} is out of date: run `python -m autograder build`"


def test_rebuilding_gives_identical_bytes(built, sources, monkeypatch):
    assert built[0] == built[1]
    # no creation date, modification date or clock-dependent id, whatever the environment says
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    assert written.compile_typst(sources.handout) == built[0]["hw12_written.pdf"]
    for data in built[0].values():
        assert b"/CreationDate" not in data and b"/ModDate" not in data
        assert b"xmp:CreateDate" not in data and b"xmp:ModifyDate" not in data


def test_key_markdown_says_it_is_generated(markdown):
    first = markdown["key"].splitlines()[0]
    assert first.startswith("<!--") and "do not edit" in first and "hw12_written.md" in first
    assert (REPO / written.KEY).read_text(encoding="utf-8") == markdown["key"]


# ------------------------------------------------------------------------------------------------
# what is on the pages
# ------------------------------------------------------------------------------------------------
def test_labels_in_the_source_are_the_homeworks(markdown):
    assert [q.label for q in written.questions(markdown["source"])] == LABELS
    assert [q.label for q in written.questions(markdown["release"])] == LABELS


def test_handout_has_header_credits_and_every_question(built):
    pages = _text(built[0]["hw12_written.pdf"])
    text = "\n".join(pages)
    for label in LABELS:
        assert label in text, f"handout lacks question {label}"
    assert "Answer." not in text, "the handout must not contain answers"
    first = pages[0]
    for fact in ("EECS 182", "Deep Neural Networks", "UC Berkeley", "Spring 2023", "Anant Sahai",
                 "Homework 12", *written.CONTRIBUTORS):
        assert fact in first, f"page 1 of the handout lacks {fact!r}"
    for n, page in enumerate(pages, 1):
        assert "EECS 182" in page and f"{n} / {len(pages)}" in page, f"page {n} lacks header or footer"


def test_template_has_one_page_and_box_per_question(built, sources):
    pages = _text(built[0]["hw12_answer_template.pdf"])
    assert len(pages) == 1 + len(LABELS), "a cover page, then one page per question"
    assert "Name" in pages[0] and "Student ID" in pages[0]
    for label, page in zip(LABELS, pages[1:]):
        head = page.split("\n")
        assert any(line.startswith(label + " ") or line == label for line in head[1:4]), \
            f"the page of {label} does not start with its label: {head[:4]}"
        assert f"Answer to {label} (write inside this box)" in page
        others = [other for other in LABELS if other != label and f"Answer to {other} " in page]
        assert not others, f"the page of {label} also holds {others}"
    assert sources.template.count("#rect(") == len(LABELS)


def test_key_has_every_answer_and_the_credits(built):
    text = "\n".join(_text(built[0]["hw12_key.pdf"]))
    for label in LABELS:
        assert label in text, f"key lacks question {label}"
    assert text.count("Answer") >= len(LABELS) - 3   # Q5 asks about the student, not the homework
    for name in written.CONTRIBUTORS:
        assert name in text
    assert "three orders of magnitude" in text and "−7.41455" in text


@pytest.mark.parametrize("name", ["hw12_written.pdf", "hw12_answer_template.pdf", "hw12_key.pdf"])
def test_no_raw_latex_or_typst_on_any_page(built, name):
    for n, page in enumerate(_text(built[0][name]), 1):
        found = RAW.findall(page)
        assert not found, f"{name} page {n} shows raw markup {found[:5]}"


def test_math_symbols_render_as_math(built):
    key = "\n".join(_text(built[0]["hw12_key.pdf"]))
    handout = "\n".join(_text(built[0]["hw12_written.pdf"]))
    assert "∥" in handout and "∥" in key, "KL(P ∥ Q) lost its ∥"
    for symbol in ("Φ", "𝛿", "√", "∑", "∇"):
        assert symbol in key, f"{symbol} missing from the key"


def test_the_rewrite_catches_sized_delimiters():
    out = written.markdown_to_typst(r"$\mathrm{KL}(P \,\big\|\, Q) + \bigl(1 - x\bigr) + \Bigl[y\Bigr]$")
    assert "#scale" not in out and "[parallel]" not in out
    assert " parallel " in out, "the symbol stays a math symbol (Typst's parallel is ∥)"
    assert "lr((1 - x))" in out.replace(" ", " ") or "(1 - x)" in out
    assert "#scale" not in written.markdown_to_typst(r"$P \,\bigg\|\, Q + \Bigm| x$")
    # without the rewrite pandoc makes a text box of the symbol: the check above can fail
    import pypandoc
    raw = pypandoc.convert_text(r"$P \big\| Q$", "typst", format="markdown")
    assert "#scale" in raw


def test_pages_render_to_png(sources, built, tmp_path):
    """Every page of each document renders (what a reader sees); the PNGs are kept for a look."""
    for name, source in (("hw12_written.pdf", sources.handout),
                         ("hw12_answer_template.pdf", sources.template), ("hw12_key.pdf", sources.key)):
        pngs = written.compile_typst(source, "png", ppi=50)
        assert len(pngs) == len(PdfReader(io.BytesIO(built[0][name])).pages)
        for n, png in enumerate(pngs, 1):
            (tmp_path / f"{Path(name).stem}-{n}.png").write_bytes(png)
            image = Image.open(io.BytesIO(png)).convert("L")
            assert image.size[0] < image.size[1], "portrait pages"
            ink = sum(1 for v in image.getdata() if v < 200) / (image.size[0] * image.size[1])
            assert 0.002 < ink < 0.5, f"{name} page {n} looks blank or black ({ink:.4f} ink)"


# ------------------------------------------------------------------------------------------------
# credits
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["README.md", "assignment/README.md", "solutions/written/hw12_written.md",
                                  "solutions/written/hw12_key.md", "assignment/written/hw12_written.md"])
def test_credits(path):
    text = " ".join((REPO / path).read_text(encoding="utf-8").split())
    for fact in ("EECS 182", "Deep Neural Networks", "UC Berkeley", "Spring 2023", "Anant Sahai",
                 *written.CONTRIBUTORS):
        assert fact in text, f"{path} lacks {fact!r}"


# ------------------------------------------------------------------------------------------------
# display math in plain CommonMark
# ------------------------------------------------------------------------------------------------
DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)


def broken_display_math(text: str) -> list[str]:
    """Display equations that a plain CommonMark parser does not keep inside one paragraph."""
    tokens = MarkdownIt("commonmark").parse(text)
    paragraphs = []
    for i, token in enumerate(tokens):
        if token.type == "inline" and i > 0 and tokens[i - 1].type == "paragraph_open":
            paragraphs.append(" ".join(token.content.split()))
    broken = []
    for match in DISPLAY.finditer(text):
        equation = " ".join(match.group(0).split())
        if not any(equation in p for p in paragraphs):
            broken.append(match.group(0)[:80])
    return broken


def test_display_math_survives_commonmark(markdown):
    for name, text in markdown.items():
        equations = DISPLAY.findall(text)
        assert len(equations) >= (8 if name == "release" else 25), name
        assert not broken_display_math(text), f"{name}: {broken_display_math(text)}"


@pytest.mark.parametrize("bad", [
    "Text\n\n$$a = b\n+ c$$\n",          # a continuation line read as a bullet
    "Text\n\n$$a = b\n- c$$\n",
    "Text\n\n$$a = b\n1. c$$\n",         # or as an ordered list
    "Text\n\n$$a\n# b$$\n",               # or as a heading
])
def test_the_commonmark_check_catches_broken_equations(bad):
    assert broken_display_math(bad)
    assert not broken_display_math(bad.replace("\n+ ", " +\n").replace("\n- ", " -\n")
                                   .replace("\n1. ", " 1.\n").replace("\n# ", " #\n"))

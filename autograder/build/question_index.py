"""``docs/QUESTIONS.md``: one hop from every graded question to each of its pieces.

For every question of ``grading_config.yaml``: its points and tier, the definitions students write
(stub in ``assignment/hw12``, solution in ``solutions/hw12``, file and line), its public and hidden
test files, the oracles those tests use, its mutants and alternatives (``tests/mutants``), the
uploaded files it reads, and its section of the answer key with the derivations behind it.

Everything is derived, nothing is kept by hand: the config, the test files and the modules read with
``ast`` (definitions are found by name, never by line number), the mutant bank through
``autograder.checks.mutants``. ``python -m autograder build`` writes the file; a test keeps it current.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from autograder.build.record import stale_recordings
from autograder.build.release import BEGIN, ONE_LINE
from autograder.build.written import KEY
from autograder.checks.mutants import Variant, default_bank, load_bank
from autograder.grading.config import load_config

INDEX = Path("docs") / "QUESTIONS.md"
BANNER = ("Generated from grading_config.yaml, autograder/tests/, tests/mutants/ and solutions/ by "
          "`python -m autograder build`; do not edit.")
TESTLIB = Path("autograder") / "grading" / "testlib"


# ---- definitions in a module, by name ---------------------------------------------------------
def definitions(source: str) -> dict[str, int]:
    """{name: line} of a module's top-level functions, classes, assignments and class methods
    (``"Class.method"``)."""
    found: dict[str, int] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node.lineno
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item.lineno
        for target in _assigned(node):
            found.setdefault(target, node.lineno)
    return found


def _assigned(node: ast.stmt) -> list[str]:
    """Names a top-level assignment binds: ``X = ...`` -> X, ``A.b = ...`` -> A.b."""
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, ast.AnnAssign) else []
    out = []
    for t in targets:
        if isinstance(t, ast.Name):
            out.append(t.id)
        elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
            out.append(f"{t.value.id}.{t.attr}")
    return out


def student_definitions(source: str) -> dict[str, int]:
    """{name: line} of what students write in a reference module: functions and methods holding a
    ``# BEGIN SOLUTION`` block and ``NAME = value  # SOLUTION`` lines."""
    lines = source.splitlines()
    found: dict[str, int] = {}

    def has_block(node) -> bool:
        return any(BEGIN.match(ln) for ln in lines[node.lineno - 1:node.end_lineno])

    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and has_block(node):
            found[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and has_block(item):
                    found[f"{node.name}.{item.name}"] = item.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and ONE_LINE.match(lines[node.lineno - 1]):
            for name in _assigned(node):
                found[name] = node.lineno
    return found


# ---- what a question's tests use --------------------------------------------------------------
def module_names_used(test_source: str, modules: set[str]) -> set[str]:
    """Names a test file reads from the student modules: ``module.name`` and
    ``getattr(module, "name")``."""
    used = set()
    for n in ast.walk(ast.parse(test_source)):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in modules:
            used.add(n.attr)
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "getattr"
              and len(n.args) >= 2 and isinstance(n.args[0], ast.Name)
              and n.args[0].id in modules and isinstance(n.args[1], ast.Constant)):
            used.add(str(n.args[1].value))
    return used


def testlib_used(test_source: str) -> set[tuple[str, str]]:
    """(testlib module, name) pairs a test file uses: names imported from
    ``autograder.grading.testlib.<module>`` or read from an imported ``<module>``."""
    used, aliases = set(), {}
    tree = ast.parse(test_source)
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("autograder.grading.testlib"):
            for a in n.names:
                if n.module == "autograder.grading.testlib":
                    aliases[a.asname or a.name] = a.name
                else:
                    used.add((n.module.rsplit(".", 1)[1], a.name))
    for n in ast.walk(tree):
        if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and n.value.id in aliases):
            used.add((aliases[n.value.id], n.attr))
    return used


def variant_names(v: Variant) -> set[str]:
    """Names a bank file (re)defines at top level."""
    return set(definitions(v.code))


# ---- the key ---------------------------------------------------------------------------------
HEADING = re.compile(r"^(#{2,4})\s+(.*?)\s*$")


def written_label(question: str) -> str:
    """The written question a code question belongs to: q1a -> Q1(a), q3b_eval -> Q3(b), q4_log -> Q4."""
    m = re.match(r"q(\d+)([a-z]?)", question)
    return f"Q{m.group(1)}" + (f"({m.group(2)})" if m.group(2) else "")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def key_section(key_text: str, question: str) -> tuple[str, str] | None:
    """(heading, anchor) of the key's section for ``question``: the heading that starts with its
    written label, else with the label's question number."""
    label = written_label(question)
    headings = [m.group(2) for m in map(HEADING.match, key_text.splitlines()) if m]
    for want in (label, label.split("(")[0]):
        for h in headings:
            if re.match(re.escape(want) + r"(?![\w(])", h):
                return h, github_anchor(h)
    return None


# ---- the index ---------------------------------------------------------------------------------
@dataclass
class Located:
    name: str
    path: Path      # relative to the repository
    line: int


def _link(item: Located) -> str:
    return f"[`{item.name}`](../{item.path.as_posix()}#L{item.line})"


def _file_link(path: Path, text: str | None = None) -> str:
    return f"[`{text or path.name}`](../{path.as_posix()})"


def question_pieces(root: Path) -> dict[str, dict[str, dict]]:
    """{part: {question: pieces}} with every piece the index shows (see the module docstring)."""
    root = Path(root)
    cfg, cases = load_config(root / "grading_config.yaml", root / "autograder" / "tests")
    questions = {p: set(part.questions) for p, part in cfg.parts.items()}
    bank = load_bank(default_bank(root), list(cfg.parts), questions)
    key_path = root / KEY
    key_text = key_path.read_text(encoding="utf-8") if key_path.exists() else ""
    derivations = sorted((root / "solutions" / "derivations").glob("q[0-9]*_*.py"))
    out: dict[str, dict[str, dict]] = {}
    for part_id, part in cfg.parts.items():
        modules = set(part.modules)
        reference = {m: (root / "solutions" / "hw12" / f"{m}.py").read_text(encoding="utf-8")
                     for m in part.modules}
        writes = {m: student_definitions(src) for m, src in reference.items()}
        stubs = {m: definitions((root / "assignment" / "hw12" / f"{m}.py").read_text(encoding="utf-8"))
                 for m in part.modules}
        variants = defaultdict(list)
        for v in bank:
            if v.part == part_id:
                variants[v.question].append(v)
        # a question owns what its mutants redefine (an alternative may rewrite more)
        owned = {q: {n for v in variants[q] if v.kind == "mutant" for n in variant_names(v)
                     if any(n in writes[m] for m in modules)} for q in part.questions}
        out[part_id] = {}
        for q, question in part.questions.items():
            qcases = [c for c in cases[part_id] if c.question == q]
            files = sorted({c.file for c in qcases}, key=lambda f: (f.parent.name != "public", f))
            sources = [f.read_text(encoding="utf-8") for f in files]
            used = set().union(*(module_names_used(s, modules) for s in sources))
            # a class the tests use stands for the methods students write in it
            expanded = {w for m in modules for w in writes[m]
                        if w in used or w.split(".")[0] in used}
            others = set().union(*(owned[o] for o in part.questions if o != q))
            names = owned[q] | (expanded - others)
            stub, solution = [], []
            for m in part.modules:
                for n in sorted(names, key=lambda n: writes[m].get(n, 0)):
                    if n in writes[m]:
                        solution.append(Located(n, Path("solutions/hw12") / f"{m}.py", writes[m][n]))
                        if n in stubs[m]:
                            stub.append(Located(n, Path("assignment/hw12") / f"{m}.py", stubs[m][n]))
            helpers = []
            for mod, name in sorted(set().union(*(testlib_used(s) for s in sources))):
                found = _testlib_definition(root, mod, name)
                if found is not None and not name.isupper():
                    helpers.append(found)
            section = key_section(key_text, q) if key_text else None
            number = written_label(q)[1:].split("(")[0]
            out[part_id][q] = {
                "title": question.title, "points": question.points, "tier": question.tier,
                "stub": stub, "solution": solution,
                "tests": [(f.parent.name, f.relative_to(root),
                           sum(1 for c in qcases if c.file == f),
                           sum(c.points for c in qcases if c.file == f)) for f in files],
                "oracles": [h for h in helpers if h.name.endswith("_oracle")],
                "checks": [h for h in helpers if not h.name.endswith("_oracle")],
                "reads": list(part.data_files) if any("submission" in c.params for c in qcases) else [],
                "notebook": part.notebook,
                "mutants": [v for v in variants[q] if v.kind == "mutant"],
                "alternatives": [v for v in variants[q] if v.kind == "alternative"],
                "key": section,
                "derivations": [d.relative_to(root) for d in derivations
                                if d.name.startswith(f"q{number}_")],
            }
    return out


def _testlib_definition(root: Path, module: str, name: str) -> Located | None:
    """Where ``autograder.grading.testlib.<module>.<name>`` is defined, following ``from .x import name``."""
    path = TESTLIB / f"{module}.py"
    source = (root / path).read_text(encoding="utf-8")
    line = definitions(source).get(name)
    if line is not None:
        return Located(name, path, line)
    for node in ast.parse(source).body:
        if (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
                and any(a.name == name for a in node.names)):
            return _testlib_definition(root, node.module, name)
    return None


def _points(x: float) -> str:
    return f"{x:g} point" + ("" if x == 1 else "s")


def _variant_line(v: Variant, root: Path) -> str:
    first = v.description.splitlines()[0]
    return f"  - {_file_link(v.path.relative_to(root), v.path.stem)}: {first}"


def render_index(root: Path) -> str:
    """The text of docs/QUESTIONS.md."""
    root = Path(root)
    cfg, _ = load_config(root / "grading_config.yaml", root / "autograder" / "tests")
    pieces = question_pieces(root)
    out = [f"<!-- {BANNER} -->", "", "# Questions: where each piece lives", "", f"*{BANNER}*", "",
           "Every graded question of the code parts, with links to its stub and solution, its "
           "tests, the oracles they compare with, its mutants and alternatives "
           "(`tests/mutants/README.md`) and its section of the answer key "
           f"({_file_link(KEY, KEY.name)}).", ""]
    for part_id, part in cfg.parts.items():
        total = sum(q.points for q in part.questions.values())
        out += [f"## {part_id}: {part.title} ({_points(total)})", ""]
        for q, p in pieces[part_id].items():
            tier = " (GPU tier)" if p["tier"] == "gpu" else ""
            out += [f"### `{q}` {p['title']}: {_points(p['points'])}{tier}", ""]
            none = "none"
            out.append("- stub: " + (", ".join(map(_link, p["stub"])) or none))
            out.append("- solution: " + (", ".join(map(_link, p["solution"])) or none))
            tests = [f"{vis} {_file_link(path, f'{path.parent.parent.name}/{path.parent.name}/{path.name}')}"
                     f" ({n} case{'s' if n != 1 else ''}, {_points(pts)})"
                     for vis, path, n, pts in p["tests"]]
            out.append("- tests: " + "; ".join(tests))
            out.append("- oracles: " + (", ".join(map(_link, p["oracles"])) or none))
            if p["checks"]:
                out.append("- other test helpers: " + ", ".join(map(_link, p["checks"])))
            if p["reads"]:
                nb = p["notebook"]
                out.append("- reads the uploaded " + ", ".join(f"`{f}`" for f in p["reads"])
                           + (f", written by the notebook {_file_link(Path('solutions') / nb)}"
                              if nb else ""))
            for label in ("mutants", "alternatives"):
                items = p[label]
                out.append(f"- {label} ({len(items)})" + (":" if items else ": none"))
                out += [_variant_line(v, root) for v in items]
            key = (f"[{p['key'][0]}](../{KEY.as_posix()}#{p['key'][1]})" if p["key"] else none)
            derivs = ", ".join(_file_link(d) for d in p["derivations"])
            out.append(f"- key: {key}" + (f"; derivations: {derivs}" if derivs else ""))
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


SCAFFOLD_MARK = "TODO(new-question)"  # what `new-question` leaves in every placeholder (scaffold.py)
CHECK_CELL = re.compile(r"""grader\.check\(\s*["'](\w+)["']\s*\)""")


def check_cells(notebook: Path) -> set[str]:
    """The questions a notebook checks with ``grader.check("q")`` in its code cells."""
    import json

    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return {q for c in cells if c["cell_type"] == "code"
            for q in CHECK_CELL.findall("".join(c["source"]))}


def missing_pieces(root: Path, pieces: dict | None = None) -> list[str]:
    """What a graded question still lacks, one sentence each ([] when nothing does): every
    question needs a key section and a hidden case; a CPU-tier question a public case and a check
    cell in its part's notebook; a CPU-tier question that calls the student's code and reads no
    notebook output a mutant in tests/mutants/<part>/<question>/. (GPU-tier questions grade what
    the device adds to functions that CPU questions grade: their mutants are those questions'.)"""
    root = Path(root)
    pieces = pieces or question_pieces(root)
    cfg, cases = load_config(root / "grading_config.yaml", root / "autograder" / "tests")
    out = []
    for part_id, questions in pieces.items():
        notebook = root / "solutions" / cfg.parts[part_id].notebook if cfg.parts[part_id].notebook \
            else None
        checked = check_cells(notebook) if notebook is not None and notebook.exists() else set()
        for q, p in questions.items():
            kinds = {kind for kind, _, n, _ in p["tests"] if n}
            lacks = []
            if "hidden" not in kinds:
                lacks.append("a hidden case (autograder/tests/<part>/hidden/)")
            if p["tier"] == "cpu" and "public" not in kinds:
                lacks.append("a public case (autograder/tests/<part>/public/)")
            if p["tier"] == "cpu" and notebook is not None and q not in checked:
                lacks.append(f'a check cell grader.check("{q}") in solutions/{cfg.parts[part_id].notebook}')
            calls = any(set(cfg.parts[part_id].modules) & set(c.params)
                        for c in cases[part_id] if c.question == q)
            if p["tier"] == "cpu" and calls and not p["reads"] and not p["mutants"]:
                lacks.append(f"a mutant in tests/mutants/{part_id}/{q}/")
            if p["key"] is None:
                lacks.append(f"a section of the answer key ({written_label(q)})")
            out += [f"{part_id}/{q} lacks {piece}" for piece in lacks]
            files = [root / f for _, f, _, _ in p["tests"]] + [v.path for v in p["mutants"]]
            out += [f"{part_id}/{q}: {Path(f).relative_to(root) if Path(f).is_absolute() else f} "
                    f"still holds the scaffold's {SCAFFOLD_MARK}" for f in files
                    if SCAFFOLD_MARK in Path(f).read_text(encoding="utf-8")]
            if SCAFFOLD_MARK in p["title"]:
                out.append(f"{part_id}/{q}: its title in grading_config.yaml still holds "
                           f"the scaffold's {SCAFFOLD_MARK}")
        for q, p in questions.items():
            for located in p["solution"]:
                exported = module_exports(root / located.path)
                if "." not in located.name and exported is not None and located.name not in exported:
                    out.append(f"{part_id}/{q}: {located.name} is not in __all__ of {located.path}")
        shared = [root / "solutions" / "hw12" / f"{m}.py" for m in cfg.parts[part_id].modules]
        shared += [root / TESTLIB / f"{part_id}_oracles.py"]
        shared += [notebook] if notebook is not None else []
        out += [f"{part_id}: {f.relative_to(root)} still holds the scaffold's {SCAFFOLD_MARK}"
                for f in shared if f.exists() and SCAFFOLD_MARK in f.read_text(encoding="utf-8")]
    return out + stale_recordings(root)


def module_exports(path: Path) -> set[str] | None:
    """The names in a module's ``__all__`` (None when it defines none), read with ``ast``."""
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return {e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)}
    return None


def write_index(root: Path) -> Path:
    """Write docs/QUESTIONS.md (only when its text changes); return its path."""
    path = Path(root) / INDEX
    text = render_index(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path

"""The grader's import graph, read from the source with ``ast``, and the code that grading runs.

``import_graph`` counts module-level imports and imports inside functions alike, relative ones,
and the sibling imports of the sandbox's scripts (``worker.py`` and ``zygote.py`` run as files and
import ``protocol``, ``gradients``, ``cleanup`` next to them). ``grading_files`` is the closure of
what a grading runs: the Gradescope entry point, the runner, the fork server and its workers, and
the test files of the parts graded. The Gradescope zip carries exactly these files, and a batch's
content hash covers exactly them, so an edit of a staff tool (the report, the build, validate)
changes neither. ``tests/build/test_imports.py`` checks the graph has no cycle and that staff tools are
never imported by grading code.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # autograder/
# What a grading starts: the Gradescope entry point (``python -m autograder.grading.gradescope``), the
# runner (``python -m autograder.grading.runner``) and the fork server, run as a file.
GRADING_ENTRIES = ("autograder.grading.gradescope", "autograder.grading.runner", "autograder.grading.sandbox.zygote")
GRADING_DATA = ("grading/schemas/gradescope_results.schema.json",)  # read by results.py
SCRIPT_FOLDERS = {"autograder.grading.sandbox"}  # whose files import each other as top-level siblings


def module_names(packages: dict[str, Path]) -> dict[str, Path]:
    """{dotted module name: file} of every .py file under each package folder."""
    out = {}
    for name, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = [name, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Dotted names an import statement loads (``from a import b`` gives a.b: the module a.b, or
    the name b of module a)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [f"{base}.{a.name}" for a in node.names]


def import_graph(packages: dict[str, Path]) -> dict[str, set[str]]:
    """{module: modules of ``packages`` it imports anywhere in its file}."""
    modules = module_names(packages)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        folder = module if is_package else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node, module, is_package):
                if folder in SCRIPT_FOLDERS and f"{folder}.{name}" in modules:
                    name = f"{folder}.{name}"  # a sibling script's import
                while name and name not in modules:  # a.b.func -> a.b; outside packages -> ""
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def closure(graph: dict[str, set[str]], starts) -> set[str]:
    """The modules reachable from ``starts`` in ``graph`` (the starts included), with the package
    (``__init__``) of each."""
    seen, todo = set(), list(starts)
    while todo:
        module = todo.pop()
        if module in seen or module not in graph:
            continue
        seen.add(module)
        todo.extend(graph[module])
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)
    return seen


def grading_files(root: Path, parts: list[str]) -> list[Path]:
    """The files of ``root/autograder`` that grading ``parts`` runs or reads, sorted: the closure of
    GRADING_ENTRIES and of the parts' test files, and GRADING_DATA."""
    package = Path(root) / "autograder"
    modules = module_names({"autograder": package})
    graph = import_graph({"autograder": package})
    tests = [m for m in modules if any(m.startswith(f"autograder.tests.{p}.") for p in parts)]
    files = {modules[m] for m in closure(graph, [*GRADING_ENTRIES, *tests])}
    files |= {package / rel for rel in GRADING_DATA}
    return sorted(files)

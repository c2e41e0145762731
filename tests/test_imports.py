"""The import graph of ``solutions/hw12`` and ``autograder``, read from the source with ``ast``
(module-level imports and imports inside functions alike): it has no cycle, and no given module of
``hw12`` imports a student module (the modules that ``grading_config.yaml`` grades), so given code
gets the student's functions only as arguments.
"""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"hw12": ROOT / "solutions" / "hw12", "autograder": ROOT / "autograder"}


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
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node, module, is_package):
                while name and name not in modules:  # a.b.func -> a.b; outside packages -> ""
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        return list(e.args[1])
    return None


def student_modules() -> set[str]:
    config = yaml.safe_load((ROOT / "grading_config.yaml").read_text())
    return {f"hw12.{m}" for part in config["parts"].values() for m in part["modules"]}


def test_the_cycle_finder_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n    return a\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    graph = import_graph({"pkg": pkg})
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"} and graph["pkg.c"] == {"pkg.a"}
    assert set(find_cycle(graph)) == {"pkg.a", "pkg.b"}
    (pkg / "b.py").write_text("def f():\n    return 1\n")
    assert find_cycle(import_graph({"pkg": pkg})) is None


def test_hw12_and_autograder_have_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_given_modules_never_import_student_modules():
    graph = import_graph(PACKAGES)
    students = student_modules()
    assert students and students <= set(graph), students
    given = [m for m in graph if m.startswith("hw12.") and m not in students]
    assert "hw12.early_exit_training" in given and "hw12.rlhf_models" in given
    offenders = {m: sorted(graph[m] & students) for m in given if graph[m] & students}
    assert not offenders, f"given modules importing student modules: {offenders}"


@pytest.mark.parametrize("module", sorted(m.removeprefix("hw12.") for m in student_modules()))
def test_student_modules_import_given_code_from_the_hw12_package(module):
    """One import style: ``from hw12.x import y`` / ``from hw12 import x``, never a relative import
    or a bare ``import x`` fallback (the package is always ``hw12``)."""
    tree = ast.parse((PACKAGES["hw12"] / f"{module}.py").read_text())
    local = {p.stem for p in PACKAGES["hw12"].glob("*.py")}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}.py line {node.lineno}: relative import"
            assert (node.module or "").split(".")[0] not in local, (
                f"{module}.py line {node.lineno}: import hw12 modules as hw12.<name>")
        elif isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & local, (
                f"{module}.py line {node.lineno}: import hw12 modules as hw12.<name>")

"""The import graph of ``solutions/hw12`` and ``autograder``, read from the source with ``ast``
(module-level imports and imports inside functions alike; autograder/build/imports.py): it has no cycle,
no given module of ``hw12`` imports a student module (the modules that ``grading_config.yaml``
grades), so given code gets the student's functions only as arguments, and grading code never
imports a staff tool (what the Gradescope zip carries is computed from this graph), and imports
run one way between the layers of autograder/ (``LAYERS``).
"""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest
import yaml

from autograder.build.imports import GRADING_ENTRIES, closure, grading_files, import_graph

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"hw12": ROOT / "solutions" / "hw12", "autograder": ROOT / "autograder"}


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


# The subpackages of autograder/ by layer: a module imports only from its own subpackage and from
# lower layers, so grading (what a Gradescope zip runs) never imports a staff tool.
LAYERS = ["grading", "checks", "build", "batch", "cli"]


def layer(module: str) -> int | None:
    """The layer of an ``autograder`` module (None: the package's root and ``__main__``, and the
    graded test files under ``autograder/tests``, which are data of the grading)."""
    name = module.split(".")[1] if module.count(".") else ""
    if name in ("tests", "__main__", ""):
        return None
    return LAYERS.index(name)


def test_every_module_of_autograder_sits_in_a_layer():
    graph = import_graph({"autograder": ROOT / "autograder"})
    loose = [m for m in graph if layer(m) is None
             and m not in ("autograder", "autograder.__main__") and not m.startswith("autograder.tests.")]
    assert not loose, f"modules outside grading/, checks/, build/, batch/ and cli.py: {loose}"


def test_imports_run_one_way_between_layers():
    graph = import_graph({"autograder": ROOT / "autograder"})
    upward = sorted((m, t) for m, targets in graph.items() for t in targets
                    if layer(m) is not None and layer(t) is not None and layer(t) > layer(m))
    assert not upward, f"imports against the layers {LAYERS}: {upward}"


def test_grading_code_never_imports_a_staff_tool():
    graph = import_graph({"autograder": ROOT / "autograder"})
    grading = closure(graph, GRADING_ENTRIES)
    staff = {m for m in graph if layer(m) is not None and layer(m) > 0}
    assert {"autograder.cli", "autograder.batch.report", "autograder.build.release",
            "autograder.checks.validate"} <= staff
    assert not grading & staff, sorted(grading & staff)
    assert {"autograder.grading.supervisor", "autograder.grading.runner",
            "autograder.grading.sandbox.worker",
            "autograder.grading.sandbox.protocol"} <= grading  # sibling imports of the sandbox's scripts


def test_the_layer_test_sees_an_import_against_the_layers(tmp_path):
    pkg = tmp_path / "autograder"
    for folder in ("grading", "build"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "build" / "zips.py").write_text("from autograder.grading import runner\n")
    (pkg / "grading" / "runner.py").write_text("def f():\n    from autograder.build import zips\n")
    graph = import_graph({"autograder": pkg})
    upward = [(m, t) for m, ts in graph.items() for t in ts if layer(t) > layer(m)]
    assert upward == [("autograder.grading.runner", "autograder.build.zips")]


def test_each_part_ships_only_its_own_tests_and_oracles():
    for part, other in (("rlhf", "early_exit"), ("early_exit", "rlhf")):
        names = {p.relative_to(ROOT).as_posix() for p in grading_files(ROOT, [part])}
        assert any(f"/tests/{part}/hidden/" in n for n in names)
        assert not any(f"/tests/{other}/" in n or f"{other}_oracles" in n for n in names), part

"""The shape of the imports: no module in a circle, services never import tasks, and the
layer contracts of pyproject.toml (`[tool.importlinter]`) hold.

Read from the source files, not from what happens to be imported, so an import inside a
function counts as much as one at the top.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

PACKAGES = ("config", "forms_intake", "bookings", "practitioners", "medirecords")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_no_module_imports_another_that_imports_it_back(graph):
    circles = [sorted(circle) for circle in _circles(graph) if not _only_migrations(circle)]
    assert circles == [], f"modules in an import circle: {circles}"


def test_no_service_imports_a_tasks_module(graph):
    tasks_modules = {module for module in graph.modules if module.rsplit(".", 1)[-1] == "tasks"}
    importers = {
        (importer, tasks) for tasks in tasks_modules for importer in graph.find_modules_that_directly_import(tasks)
    }
    assert importers == set(), "enqueue by name through bookings.dispatch instead of importing tasks"


def test_layer_contracts_hold():
    """The contracts `make lint` checks, by the same command (in a process of its own: it
    reconfigures logging for the whole process it runs in)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [lint_imports, "--config", "pyproject.toml", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _only_migrations(circle: set[str]) -> bool:
    return all(".migrations." in module for module in circle)


def _circles(graph: grimp.ImportGraph) -> Iterator[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = lowlink[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = lowlink[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    lowlink[module] = min(lowlink[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[module])
            if lowlink[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    yield component

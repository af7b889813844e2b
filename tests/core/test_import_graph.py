"""``ferry/`` has no import cycles, counting the imports hidden under ``TYPE_CHECKING``.

A cycle behind ``TYPE_CHECKING`` still couples the modules: it only postpones
the ImportError to the day someone needs the name at run time. import-linter
has no contract for "no cycles", so this test builds the graph with grimp (which
import-linter installs) and lists every strongly connected component.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp


def _import_graph(package: str) -> dict[str, set[str]]:
    graph = grimp.build_graph(package, include_external_packages=False, exclude_type_checking_imports=False)
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m.split(".")[0] == package}
        for module in graph.modules
        if module.split(".")[0] == package
    }


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The components of more than one module (or a module importing itself), each sorted.

    Tarjan's algorithm, iterative so that a deep package cannot hit the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["f"]]


def test_ferry_has_no_import_cycles() -> None:
    cycles = strongly_connected(_import_graph("ferry"))
    assert not cycles, "import cycles in ferry/ (TYPE_CHECKING imports included):\n" + "\n".join(
        " <-> ".join(component) for component in cycles
    )

"""The package layers of docs/architecture.md, held against the imports of vmwctl/.

The imports are read with ast (nothing is imported), function-level and
TYPE_CHECKING imports included: a module imports only from its own unit and
from the layers below, and no two modules import each other, however
indirectly.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vmwctl"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
LAYERS_MARKER = "<!-- layers: read by tests/unit/test_architecture.py -->"

Graph = Mapping[str, set[str]]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the vmwctl modules it imports."""
    paths = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:  # 'from pkg import module' names a module
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths
                              else base)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def read_layers(text: str) -> list[list[str]]:
    """The layer block of architecture.md, bottom layer first: each a list of units."""
    after = text.split(LAYERS_MARKER, 1)[1]
    block = re.search(r"```text\n(.*?)```", after, re.DOTALL)
    assert block is not None, "no layer block after the marker"
    rows = []
    for line in block.group(1).splitlines():  # a layer's name, its units, a description
        words = line.split()[1:]
        units = []
        while words and re.fullmatch(r"vmwctl(\.\w+)*", words[0]):
            units.append(words.pop(0))
        rows.append(units)
    return [units for units in reversed(rows) if units]  # the block draws the top first


def unit_of(module: str, layers: Sequence[Sequence[str]]) -> str | None:
    """The longest unit (package or module) that holds ``module``."""
    units = [u for layer in layers for u in layer
             if module == u or module.startswith(u + ".")]
    return max(units, key=len) if units else None


def upward_imports(graph: Graph, layers: Sequence[Sequence[str]]) -> list[str]:
    """Imports of a unit of the same layer or of one above."""
    level = {unit: n for n, layer in enumerate(layers) for unit in layer}
    wrong = []
    for module, targets in sorted(graph.items()):
        source = unit_of(module, layers)
        for target in sorted(targets):
            other = unit_of(target, layers)
            if source is None or other is None or source == other:
                continue
            if level[other] >= level[source]:
                wrong.append(f"{module} -> {target}")
    return wrong


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


LAYERS = read_layers(ARCHITECTURE.read_text())


def test_the_layer_block_reads_bottom_first() -> None:
    assert LAYERS[0] == ["vmwctl.errors", "vmwctl"]
    assert ["vmwctl.vsphere"] in LAYERS and LAYERS[-1] == ["vmwctl.__main__"]
    assert LAYERS.index(["vmwctl.vsphere"]) < LAYERS.index(["vmwctl.cache"])


def test_every_module_has_a_layer() -> None:
    assert [m for m in import_graph() if unit_of(m, LAYERS) is None] == []


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_imports_point_down() -> None:
    assert upward_imports(import_graph(), LAYERS) == []


def test_a_planted_upward_import_and_cycle_are_found() -> None:
    layers = [["vmwctl.errors"], ["vmwctl.vsphere"], ["vmwctl.cache", "vmwctl.images"],
              ["vmwctl.cli"]]
    graph = {
        "vmwctl.cli.app": {"vmwctl.cache.purge", "vmwctl.errors"},
        "vmwctl.cache.purge": {"vmwctl.vsphere.journal", "vmwctl.cache.locks"},
        "vmwctl.cache.locks": {"vmwctl.vsphere.journal"},
        # the shape this issue removed: vsphere reaching up into cache, closing a loop
        "vmwctl.vsphere.journal": {"vmwctl.cache.purge", "vmwctl.errors"},
        "vmwctl.images.glance": {"vmwctl.cache.locks"},  # a peer of the same layer
        "vmwctl.errors": set(),
    }
    assert upward_imports(graph, layers) == [
        "vmwctl.images.glance -> vmwctl.cache.locks",
        "vmwctl.vsphere.journal -> vmwctl.cache.purge",
    ]
    assert cycles(graph) == [["vmwctl.cache.locks", "vmwctl.cache.purge", "vmwctl.vsphere.journal"]]
    del graph["vmwctl.vsphere.journal"]
    assert cycles(graph) == []


def test_the_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "vmwctl"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "low.py").write_text("")
    (package / "sub" / "high.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import low\n"
        "if TYPE_CHECKING:\n    from vmwctl.errors import X\n"
        "def f():\n    import vmwctl.sub\n")
    graph = import_graph(package)
    assert graph["vmwctl.sub.high"] == {"vmwctl.sub.low", "vmwctl.errors", "vmwctl.sub"}


def test_every_package_is_on_the_architecture_page() -> None:
    text = ARCHITECTURE.read_text()
    packages = sorted(p.parent.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("__init__.py")
                      if "cli/" not in p.relative_to(ROOT).as_posix() or p.parent.name == "cli")
    assert [p for p in packages if f"{p}/" not in text] == []

"""The imports point one way: pages and views → flows → services → models → core.

Walks every module of the installed packages with `ast` and fails on an edge that points the
wrong way. Imports under `if TYPE_CHECKING:` are not edges at run time and are skipped.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("conveyor", "workflows", "activities", "routing_rules", "api")
# Workflow modules hold workflow code; these hold only the types and names others may use.
WORKFLOW_TYPE_MODULES = {"workflows.types", "workflows.return_types"}


@dataclass(frozen=True)
class Edge:
    source: str  # dotted module name
    target: str  # dotted module name imported
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _source_files() -> list[Path]:
    files = [ROOT / "worker.py"]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [path for path in files if "migrations" not in path.parts]


MODULES = {_module_name(path) for path in _source_files()}


def _imports(tree: ast.AST, source: str) -> list[Edge]:
    edges: list[Edge] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            edges.extend(Edge(source, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            edges.append(Edge(source, node.module, node.lineno))
            # `from conveyor.order import flows` imports the module conveyor.order.flows
            edges.extend(
                Edge(source, f"{node.module}.{alias.name}", node.lineno)
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return edges


def _all_edges() -> list[Edge]:
    edges: list[Edge] = []
    for path in _source_files():
        edges += _imports(ast.parse(path.read_text(), str(path)), _module_name(path))
    return edges


EDGES = _all_edges()


def _kind(module: str) -> str:
    """The layer a module belongs to."""
    parts = module.split(".")
    if parts[0] in ("api", "worker", "activities", "routing_rules"):
        return parts[0]
    if parts[0] == "workflows":
        return "workflow_types" if module in WORKFLOW_TYPE_MODULES else "workflow"
    if parts[:2] == ["conveyor", "core"]:
        return "core"
    if parts[:2] == ["conveyor", "pages"]:
        return "pages"
    if parts[0] == "conveyor" and len(parts) >= 3:
        leaf = parts[-1]
        if leaf in ("views", "flows", "models", "service"):
            return leaf
        return "domain"  # other modules of an area: helpers at the service level
    return "other"


def _is_ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES or module == "worker"


def _wrong_way(edge: Edge) -> str | None:
    """Why this edge points the wrong way, or None when it is allowed."""
    if not _is_ours(edge.target):
        return None
    source, target = _kind(edge.source), _kind(edge.target)
    if source == "core" and target != "core":
        return "core imports nothing of ours"
    if source in ("models", "service", "flows", "domain", "core") and target in ("api", "pages"):
        return "the domain never imports the HTTP layer"
    if source in ("models", "service", "domain") and target in ("views", "flows"):
        return "services and models sit below flows and views"
    if source == "flows" and target == "views":
        return "flows sit below views"
    if source == "pages" and target == "views":
        return "pages call flows and services, never route handlers"
    if target == "workflow" and source not in ("workflow", "worker"):
        return "only workflows and worker.py import workflow modules"
    if target == "workflow_types" and source not in ("workflow", "worker", "flows", "activities"):
        return "workflow types are for the flows and activities"
    if source == "activities" and target in ("api", "pages", "views", "flows"):
        return "activities adapt services to Temporal, below flows"
    return None


def test_the_walk_sees_the_code() -> None:
    # A walk that found nothing would pass trivially.
    assert len(EDGES) > 500
    assert any(e.source == "api.main" and e.target.startswith("conveyor.") for e in EDGES)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("conveyor.order.service", "api.deps", False),
        ("conveyor.pages.orders", "conveyor.order.views", False),
        ("conveyor.order.flows", "workflows.v7.sales_order", False),
        ("conveyor.order.flows", "workflows.types", True),
        ("conveyor.core.db", "conveyor.order.models", False),
        ("conveyor.order.views", "api.deps", True),
        ("conveyor.pages.orders", "conveyor.order.flows", True),
    ],
)
def test_the_rules_themselves(source: str, target: str, allowed: bool) -> None:
    assert (_wrong_way(Edge(source, target, 1)) is None) is allowed


def test_no_import_points_the_wrong_way() -> None:
    wrong = [
        f"{e.source}:{e.line} imports {e.target}: {why}"
        for e in EDGES
        if (why := _wrong_way(e)) is not None
    ]
    assert not wrong, "\n".join(sorted(set(wrong)))

"""The layering of docs/architecture.md, checked on the source (issue 12, item 4).

Arrows point down only::

    server/  cli/            parse input, call services, render; never import store/
        services/            use cases: the only layer that combines store and the pure layers
    store/  quality/  modeling/  data/  reports/
        core/                imports nothing of ours

``quality``, ``modeling`` and ``data`` are pure: they import neither the store nor the services
nor the shells. Every import is counted, including those inside functions (two cycles were once
hidden that way), except those under ``if TYPE_CHECKING:``; ``from package import module``
counts as importing the module (Python's loading of the package's ``__init__`` on the way is
not a dependency of the importer on the package's other modules). No import cycle may exist between
modules. Each rule was seen failing: a route importing ``truthset.store`` makes
``test_no_forbidden_import`` fail naming the file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "truthset"

#: for each layer, the layers it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("data", "quality", "modeling", "reports", "store", "services", "server", "cli"),
    "data": ("store", "services", "server", "cli", "reports"),
    "quality": ("store", "services", "server", "cli", "reports"),
    "modeling": ("store", "services", "server", "cli", "reports"),
    "reports": ("store", "services", "server", "cli"),
    "store": ("services", "server", "cli", "reports"),
    "services": ("server", "cli"),
    "server": ("store", "cli"),
    "cli": ("store",),  # cli may import server: `truthset serve` builds the app for uvicorn
}


#: third-party packages only one layer may import: the database stays behind store/, the web
#: framework in server/, the command-line toolkit in cli/
ONLY_IN: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("store",),
    "alembic": ("store",),
    "psycopg": ("store",),
    "fastapi": ("server",),
    "starlette": ("server",),
    "uvicorn": ("server", "cli"),
    "click": ("cli",),
    "rich": ("cli",),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. truthset.server.routes.api
    target: str  # the imported module, e.g. truthset.store.db
    path: Path
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> Iterator[Import]:
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("truthset"):
                yield Import(module, target, path, node.lineno)
                continue
            names_from_module = False
            for alias in node.names:  # "from truthset.store import repo" imports truthset.store.repo
                sub = f"{target}.{alias.name}"
                if (SRC.parent / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    SRC.parent / Path(*sub.split(".")) / "__init__.py"
                ).exists():
                    yield Import(module, sub, path, node.lineno)
                else:
                    names_from_module = True
            if names_from_module:
                yield Import(module, target, path, node.lineno)


def all_imports() -> list[Import]:
    return [imp for path in sorted(SRC.rglob("*.py")) for imp in imports_of(path)]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        own = _layer(imp.module)
        where = f"{imp.path.relative_to(SRC.parent)}:{imp.line}: {own}/ imports {imp.target}"
        if imp.target.startswith("truthset"):
            if own in FORBIDDEN and _layer(imp.target) in FORBIDDEN[own]:
                out.append(where)
        elif (allowed := ONLY_IN.get(imp.target.split(".")[0])) is not None and own not in allowed:
            out.append(f"{where} (only {', '.join(allowed)}/ may)")
    return out


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    modules = {_module_name(p) for p in SRC.rglob("*.py")}
    for imp in imports:
        if imp.target in modules and imp.target != imp.module and imp.target.startswith("truthset"):
            graph.setdefault(imp.module, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_forbidden_import() -> None:
    assert violations(all_imports()) == []


def test_no_import_cycle() -> None:
    assert cycles(all_imports()) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from truthset.store.db import read_connection\n", "server/ imports truthset.store.db"),
        ("def f():\n    from truthset.store import repo\n", "server/ imports truthset.store.repo"),
        ("from sqlalchemy import select\n", "server/ imports sqlalchemy (only store/ may)"),
    ],
)
def test_the_check_sees_a_route_importing_the_store(
    tmp_path: Path, source: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule itself can fail: a route that imports the store, even inside a function."""
    fake = tmp_path / "truthset"
    (fake / "server" / "routes").mkdir(parents=True)
    (fake / "store").mkdir()
    for init in (fake, fake / "server", fake / "server" / "routes", fake / "store"):
        (init / "__init__.py").write_text("")
    (fake / "store" / "db.py").write_text("")
    (fake / "store" / "repo.py").write_text("")
    (fake / "server" / "routes" / "api.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", fake)
    found = violations(all_imports())
    assert any(expected in v for v in found), found


def test_the_check_sees_a_cycle_hidden_in_a_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "truthset"
    (fake / "quality").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "quality" / "__init__.py").write_text("")
    (fake / "quality" / "a.py").write_text("from truthset.quality import b\n")
    (fake / "quality" / "b.py").write_text("def f():\n    from truthset.quality.a import x\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", fake)
    assert cycles(all_imports()) == [["truthset.quality.a", "truthset.quality.b"]]

"""The layout of ARCHITECTURE.md, checked: who may import whom, and no import cycle anywhere.

Every import statement of every module under ``src/storewise`` counts, wherever it stands:
at the top, inside a function (a lazy import), or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"

FRONT_ENDS = ("storewise.cli", "storewise.api", "storewise.web")
#: What a front-end may import besides its own package.
FRONT_END_ALLOWED = ("storewise", "storewise.app", "storewise.errors", "storewise.schema")
#: Front-ends that may use another one: the CLI starts the API server, the API mounts the
#: dashboard.
FRONT_END_PEERS = {"storewise.cli": ("storewise.api",), "storewise.api": ("storewise.web",)}
#: The rooms marketing and support must never reach: they get narrow ports instead.
BEHIND_PORTS = ("storewise.engine", "storewise.services", "storewise.app")
#: What the store may import (it is the bottom of the house).
STORE_ALLOWED = (
    "storewise.store",
    "storewise.errors",
    "storewise.settings",
    "storewise.schema",
    "storewise.privacy.crypto",
)
#: What the browser door may import: every service it uses (ingest, customers, experiments,
#: serving, the store) comes in as a port, so it can be tested with fakes and cannot reach
#: around them.
COLLECT_ALLOWED = (
    "storewise.collect",
    "storewise.errors",
    "storewise.settings",
    "storewise.schema",
    "storewise.recommend.results",
    "storewise.recommend.rules",
)
#: Model code learns from the snapshot: never from the store's implementation or a service.
MODEL_ROOMS = ("storewise.recommend", "storewise.data", "storewise.evaluate")
MODEL_FORBIDDEN = (
    "storewise.store.sql",
    "storewise.store.writer",
    "storewise.engine",
    "storewise.services",
    "storewise.app",
    "storewise.marketing",
    "storewise.support",
    *FRONT_ENDS,
)


def _modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / "storewise").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        if "migrations" in parts:  # alembic scripts, loaded by alembic, not imported
            continue
        found[".".join(parts)] = (path, package)
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The storewise module an imported name lives in (a package's name for its members)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported storewise module, line) of every import statement in ``module``."""
    path, package = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}")
                target = target if target == f"{base}.{alias.name}" else _resolve(base)
                if target:
                    yield target, node.lineno


GRAPH = {m: {t for t, _ in _imports(m) if t != m} for m in MODULES}


def _in(module: str, rooms: tuple[str, ...]) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


def _violations(sources: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    """Imports of modules in ``sources`` that are neither one of ``allowed`` (exactly), nor in
    the importer's own room or a peer room."""
    out = []
    for module in MODULES:
        if not _in(module, sources):
            continue
        own = next(room for room in sources if _in(module, (room,)))
        rooms = (own, *FRONT_END_PEERS.get(own, ()))
        for target, line in _imports(module):
            if target not in allowed and not _in(target, rooms):
                out.append(f"{MODULES[module][0].relative_to(SRC)}:{line} imports {target}")
    return sorted(set(out))


def _forbidden(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{MODULES[module][0].relative_to(SRC)}:{line} imports {target}"
        for module in MODULES
        if _in(module, sources)
        for target, line in _imports(module)
        if _in(target, forbidden)
    )


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(GRAPH):
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_sees_lazy_and_type_checking_imports() -> None:
    assert "storewise.app" in GRAPH["storewise.cli.common"]
    assert "storewise.services.customers" in GRAPH["storewise.app"]
    # web/auth.py imports Services only under TYPE_CHECKING: it still counts.
    assert "storewise.app" in GRAPH["storewise.web.auth"]


def test_no_import_cycle_anywhere() -> None:
    assert _cycles() == []


def test_a_cycle_would_be_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, "storewise.errors", {"storewise.schema"})
    monkeypatch.setitem(GRAPH, "storewise.schema", {"storewise.errors"})
    assert ["storewise.errors", "storewise.schema"] in _cycles()


def test_front_ends_import_only_the_composition_root_schemas_and_errors() -> None:
    assert _violations(FRONT_ENDS, FRONT_END_ALLOWED) == []


def test_a_forbidden_front_end_import_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _imports

    def with_engine(module: str) -> Iterator[tuple[str, int]]:
        yield from real(module)
        if module == "storewise.cli.recommend":
            yield "storewise.engine", 1

    monkeypatch.setattr(f"{__name__}._imports", with_engine)
    assert _violations(FRONT_ENDS, FRONT_END_ALLOWED) == [
        "storewise/cli/recommend.py:1 imports storewise.engine"
    ]


def test_nothing_below_the_front_ends_imports_them_or_the_root() -> None:
    above = (*FRONT_ENDS, "storewise.app", "storewise.testing")
    found = sorted(
        f"{MODULES[module][0].relative_to(SRC)}:{line} imports {target}"
        for module in MODULES
        if not _in(module, above)
        for target, line in _imports(module)
        if _in(target, (*FRONT_ENDS, "storewise.app"))
    )
    assert found == []


def test_marketing_and_support_see_only_their_ports() -> None:
    rooms = ("storewise.marketing", "storewise.support")
    assert _forbidden(rooms, BEHIND_PORTS) == []


def test_the_store_imports_nothing_above_it() -> None:
    assert _violations(("storewise.store",), STORE_ALLOWED) == []


def test_collect_sees_only_its_ports() -> None:
    assert _violations(("storewise.collect",), COLLECT_ALLOWED) == []


def test_a_collect_import_of_a_service_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _imports

    def with_store(module: str) -> Iterator[tuple[str, int]]:
        yield from real(module)
        if module == "storewise.collect.service":
            yield "storewise.store.sql", 1

    monkeypatch.setattr(f"{__name__}._imports", with_store)
    assert _violations(("storewise.collect",), COLLECT_ALLOWED) == [
        "storewise/collect/service.py:1 imports storewise.store.sql"
    ]


def test_models_learn_from_the_snapshot_not_the_store_or_services() -> None:
    assert _forbidden(MODEL_ROOMS, MODEL_FORBIDDEN) == []


def test_architecture_md_names_every_room() -> None:
    text = ARCHITECTURE.read_text()
    rooms = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    missing = sorted(r for r in rooms if f"`{r}" not in text)
    assert missing == [], f"ARCHITECTURE.md does not describe {missing}"


def test_front_ends_never_reach_the_store_through_the_services() -> None:
    """``Services.store`` is for wiring and tests; a front-end asks a service instead."""
    found = []
    for module, (path, _package) in MODULES.items():
        if not _in(module, FRONT_ENDS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "store":
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []

"""The package layering of docs/architecture.md, checked on the source: what each package may import.

A package may import only packages of lower layers (or modules of its own). The check reads the
import statements with ``ast`` (function-level imports included), so a lazy import that climbs a
layer is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "monitor"

# Lowest first; docs/architecture.md draws the same table.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "errors",
        "models yamlfile timeparse redact signing reportlinks retry envvars exitcodes charts slo",
        "secretfile tracing stats cliargs pipes htmlpage",
        "settings logs",
        "profiles store",
        "sources probes",
        "judges otlp rollback",
        "checks own_metrics environments report grafana",
        "config",
        "channels",
        "engine",
        "backtest",
        "api",
        "commands schema simulate",
        "cli",
        "__main__",
    )
)
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}

# Pure statistics and judges: numbers in, results out; no I/O library and no I/O package.
PURE = ("stats", "judges")
IO_MODULES = ("aiohttp", "sqlalchemy", "urllib3", "requests", "prometheus_api_client", "kubernetes_asyncio")
IO_PACKAGES = ("store", "sources", "otlp", "channels", "engine", "api")


def _package(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _imports(path: Path, text: str | None = None) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import in the file (or ``text`` as if it were that file),
    relative imports made absolute."""
    module_parts = ("monitor", *path.relative_to(ROOT).with_suffix("").parts)
    source = path.read_text() if text is None else text
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module_parts[: len(module_parts) - node.level]
                if path.name == "__init__.py":
                    package = module_parts[: len(module_parts) - node.level + 1]
                yield node.lineno, ".".join((*package, *([node.module] if node.module else [])))
            elif node.module:
                yield node.lineno, node.module


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_has_a_layer() -> None:
    packages = {_package(path) for path in _sources()} - {"__init__"}
    assert packages - LAYER_OF.keys() == set(), "add the new package to LAYERS and docs/architecture.md"


def test_packages_import_only_lower_layers() -> None:
    climbs = []
    for path in _sources():
        source = _package(path)
        if source == "__init__":
            continue
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "monitor" or len(parts) < 2 or parts[1] == source:
                continue
            target = parts[1]
            if LAYER_OF.get(target, -1) >= LAYER_OF[source]:
                climbs.append(f"{path.relative_to(ROOT.parent)}:{line} imports {module}")
    assert climbs == [], "imports against the layering (docs/architecture.md):\n" + "\n".join(climbs)


@pytest.mark.parametrize("package", PURE)
def test_statistics_and_judges_stay_pure(package: str) -> None:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            monitor_package = parts[1] if parts[0] == "monitor" and len(parts) > 1 else ""
            if parts[0] in IO_MODULES or monitor_package in IO_PACKAGES:
                found.append(f"{path.relative_to(ROOT.parent)}:{line} imports {module}")
    assert found == []


def test_the_reader_sees_lazy_and_relative_imports() -> None:
    """A layering test that saw no function-level or relative import would pass on any code."""
    text = "def f() -> None:\n    from ..engine import scheduler\n    import monitor.api.app\n"
    found = list(_imports(ROOT / "stats" / "example.py", text))
    assert found == [(2, "monitor.engine"), (3, "monitor.api.app")]

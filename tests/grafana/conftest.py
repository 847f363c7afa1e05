"""Fixtures for the Grafana tests: a fake Grafana 11.4 HTTP server (``tests/fakes/grafana.py``).

No Grafana server can run on this machine; the fake follows contracts.md §1 and validates request bodies
against Grafana's OpenAPI spec. Tests should end with ``assert grafana.violations == []``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load_fakes() -> ModuleType:
    # tests/ is not a package, so tests/fakes is imported as the top-level package "fakes". The default
    # "prepend" import mode already puts tests/ on sys.path (tests/conftest.py has no package); registering
    # the package by path keeps ``from fakes.grafana import ...`` working under any import mode, as
    # tests/conftest.py does for scenarios.py.
    directory = Path(__file__).resolve().parent.parent / "fakes"
    if "fakes" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "fakes", directory / "__init__.py", submodule_search_locations=[str(directory)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["fakes"] = package
        spec.loader.exec_module(package)
    return importlib.import_module("fakes.grafana")


_fake = _load_fakes()
GrafanaFake = _fake.GrafanaFake

ADMIN_TOKEN: str = _fake.ADMIN_TOKEN
"""Bearer token of the Admin role in a fake built with default tokens."""
VIEWER_TOKEN: str = _fake.VIEWER_TOKEN
"""Bearer token of the Viewer role in a fake built with default tokens."""


@pytest.fixture
def grafana() -> Iterator[Any]:
    """A started :class:`fakes.grafana.GrafanaFake` with default options; ``grafana.url`` is its root URL."""
    with GrafanaFake() as fake:
        yield fake


@pytest.fixture
def make_grafana() -> Iterator[Callable[..., Any]]:
    """Build and start fakes with options (``grafana13=True``, ``folder_conflict_status=409``, ``tokens``);
    all are stopped after the test."""
    started: list[Any] = []

    def make(**options: Any) -> Any:
        fake = GrafanaFake(**options)
        fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()

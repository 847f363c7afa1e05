"""Fixtures for the Grafana tests: a fake Grafana 11.4 HTTP server (``tests/fakes/grafana.py``).

No Grafana server can run on this machine; the fake follows ``docs/integrations.md`` and validates request
bodies against Grafana's OpenAPI spec. Tests should end with ``assert grafana.violations == []``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes.grafana import GrafanaFake


@pytest.fixture
def grafana() -> Iterator[Any]:
    """A started :class:`fakes.grafana.GrafanaFake` with default options; ``grafana.url`` is its root URL."""
    with GrafanaFake() as fake:
        yield fake


@pytest.fixture
def make_grafana(start_fake: Callable[..., Any]) -> Callable[..., Any]:
    """Build and start fakes with options (``grafana13=True``, ``folder_conflict_status=409``, ``tokens``);
    all are stopped after the test."""
    return functools.partial(start_fake, GrafanaFake)

"""Fixtures for the rollback tests: a fake Kubernetes API server (``tests/fakes/kubernetes.py``) and a fake
Argo CD API server (``tests/fakes/argocd.py``).

No Kubernetes API server or Argo CD can run on this machine; both fakes are built from the documented
contracts (contracts.md §5.1, §5.3, §5.4, §6 and §7) and the Kubernetes and Argo CD API conventions.
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


def _load_fakes(module: str) -> ModuleType:
    # tests/ is not a package, so tests/fakes is imported as the top-level package "fakes" (as in
    # tests/grafana/conftest.py): registering the package by path keeps ``from fakes.kubernetes import ...``
    # working under any import mode.
    directory = Path(__file__).resolve().parent.parent / "fakes"
    if "fakes" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "fakes", directory / "__init__.py", submodule_search_locations=[str(directory)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["fakes"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"fakes.{module}")


_kubernetes = _load_fakes("kubernetes")
_argocd = _load_fakes("argocd")
KubernetesFake = _kubernetes.KubernetesFake
ArgoCDFake = _argocd.ArgoCDFake

KUBE_ADMIN_TOKEN: str = _kubernetes.ADMIN_TOKEN
"""Bearer token that may do anything on a :class:`fakes.kubernetes.KubernetesFake`."""
ARGOCD_ADMIN_TOKEN: str = _argocd.ADMIN_TOKEN
"""Bearer token of the ``admin`` account on a :class:`fakes.argocd.ArgoCDFake`."""


@pytest.fixture
def kubernetes() -> Iterator[Any]:
    """A started :class:`fakes.kubernetes.KubernetesFake` with default options (Rollout CRD with the status
    subresource, controllers on); ``kubernetes.url`` is the API server URL."""
    with KubernetesFake() as fake:
        yield fake


@pytest.fixture
def make_kubernetes() -> Iterator[Callable[..., Any]]:
    """Build and start Kubernetes fakes with options (``tokens``, ``users``, ``rollout_status_subresource``,
    ``controllers``); all are stopped after the test."""
    started: list[Any] = []

    def make(**options: Any) -> Any:
        fake = KubernetesFake(**options)
        fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def argocd() -> Iterator[Any]:
    """A started :class:`fakes.argocd.ArgoCDFake` with default options; ``argocd.url`` is its root URL (the
    API is below ``/api/v1``)."""
    with ArgoCDFake() as fake:
        yield fake


@pytest.fixture
def make_argocd() -> Iterator[Callable[..., Any]]:
    """Build and start Argo CD fakes with options (``tokens``, ``complete_operations``); all are stopped
    after the test."""
    started: list[Any] = []

    def make(**options: Any) -> Any:
        fake = ArgoCDFake(**options)
        fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()

"""Fixtures for the rollback tests: a fake Kubernetes API server (``tests/fakes/kubernetes.py``) and a fake
Argo CD API server (``tests/fakes/argocd.py``).

No Kubernetes API server or Argo CD can run on this machine; both fakes are built from the documented
contracts (``docs/integrations.md``) and the Kubernetes and Argo CD API conventions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes.argocd import ArgoCDFake
from fakes.kubernetes import KubernetesFake


@pytest.fixture
def kubernetes() -> Iterator[Any]:
    """A started :class:`fakes.kubernetes.KubernetesFake` with default options (Rollout CRD with the status
    subresource, controllers on); ``kubernetes.url`` is the API server URL."""
    with KubernetesFake() as fake:
        yield fake


@pytest.fixture
def make_kubernetes(start_fake: Callable[..., Any]) -> Callable[..., Any]:
    """Build and start Kubernetes fakes with options (``tokens``, ``users``, ``rollout_status_subresource``,
    ``controllers``); all are stopped after the test."""
    return functools.partial(start_fake, KubernetesFake)


@pytest.fixture
def argocd() -> Iterator[Any]:
    """A started :class:`fakes.argocd.ArgoCDFake` with default options; ``argocd.url`` is its root URL (the
    API is below ``/api/v1``)."""
    with ArgoCDFake() as fake:
        yield fake


@pytest.fixture
def make_argocd(start_fake: Callable[..., Any]) -> Callable[..., Any]:
    """Build and start Argo CD fakes with options (``tokens``, ``complete_operations``); all are stopped
    after the test."""
    return functools.partial(start_fake, ArgoCDFake)

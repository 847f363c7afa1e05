"""Session fixtures: a real Prometheus holding the simulated scenario set of ``scenarios.py``; the fakes of
``tests/fakes`` importable as the package ``fakes`` everywhere, and ``start_fake`` to run them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import asyncpg
import pytest

from monitor.simulate import Scenario, SimulatedPrometheus, simulate_into_prometheus
from monitor.simulate.prometheus import free_port, wait_for_http


def _load_by_path(name: str, path: Path) -> ModuleType:
    """Import a module file, or a package directory, as ``name`` (once): by path, so it works under any
    pytest import mode and without sys.path changes."""
    if name not in sys.modules:
        if path.is_dir():  # a package, whose submodules are found in the directory
            spec = importlib.util.spec_from_file_location(
                name, path / "__init__.py", submodule_search_locations=[str(path)]
            )
        else:
            spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_TESTS = Path(__file__).resolve().parent

SCENARIOS: tuple[Scenario, ...] = _load_by_path("tests_scenarios", _TESTS / "scenarios.py").SCENARIOS

# tests/ is not a package, so tests/fakes is imported as the top-level package "fakes" (the default
# "prepend" import mode already puts tests/ on sys.path, as this conftest has no package). Registered here,
# before any other conftest or test module is imported, ``from fakes.grafana import ...`` works in every
# test directory under any import mode.
_load_by_path("fakes", _TESTS / "fakes")


# The test tiers (tests/tiers.py): markers added before -m deselects, so they count.
TIERS: ModuleType = _load_by_path("tests_tiers", _TESTS / "tiers.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in TIERS.tier_markers(item, _TESTS):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def scenarios() -> tuple[Scenario, ...]:
    """The test scenario set (names are also the service label values)."""
    return SCENARIOS


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, scenarios: tuple[Scenario, ...]
) -> Iterator[SimulatedPrometheus]:
    """A real Prometheus on a free loopback port with every scenario backfilled.

    All runs share one start time (6-7 h ago, on the hour); see ``runs[name]`` for the windows.
    """
    workdir = tmp_path_factory.mktemp("prometheus")
    process, runs = simulate_into_prometheus(scenarios, workdir)
    with process:
        yield SimulatedPrometheus(process, runs)


@dataclass
class Clock:
    """A clock the tests move by hand (stores, engines and deliverers accept it as ``clock``)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """A manual clock at 2026-11-26T10:00:00Z."""
    return Clock()


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


@pytest.fixture
def post_json() -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """POST a JSON body with the standard library (as a pipeline would) and decode the answer."""
    return _post_json


class _Fake(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


FakeT = TypeVar("FakeT", bound=_Fake)


@pytest.fixture
def start_fake() -> Iterator[Callable[..., Any]]:
    """``start_fake(FakeClass, **options)`` builds a fake of ``tests/fakes`` with options and starts it; all
    are stopped after the test (what the ``make_grafana``, ``make_kubernetes``, ... fixtures are made of)."""
    started: list[_Fake] = []

    def start(fake_type: Callable[..., FakeT], **options: Any) -> FakeT:
        fake = fake_type(**options)
        fake.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the machine's PostgreSQL (``MONITOR_TEST_POSTGRES_URL``), dropped after."""
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


Replica = tuple[str, "subprocess.Popen[bytes]"]


@contextmanager
def serve_replicas(count: int, *args: str) -> Iterator[list[Replica]]:
    """``count`` real ``monitor serve`` processes with ``args`` on free ports, up; killed after."""
    started: list[Replica] = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}", *args],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", process))
        for url, _ in started:
            assert wait_for_http(f"{url}/healthz"), f"replica at {url} did not come up"
        yield started
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def replicas_of() -> Callable[..., AbstractContextManager[list[Replica]]]:
    """:func:`serve_replicas`, for tests in directories that cannot import this conftest."""
    return serve_replicas

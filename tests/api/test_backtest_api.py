"""``GET /api/v1/services/{service}/backtest``: its parameters' validation, the document's shape, the
read scope, and its bounds (one run per service at a time, results reused for a while).

The computation is replaced by one returning a hand-built result (it would read days of
Prometheus history); the application, its store and its authentication are the real ones."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from fakes.backtests import sample_backtest

from monitor.api.backtest import BACKTESTS, CACHE_TTL_S, Backtests
from monitor.backtest.replay import BacktestStopped
from monitor.backtest.result import Backtest
from monitor.channels.notify import Notifier
from monitor.config import Settings, TokenSpec
from monitor.errors import SourceError
from monitor.schema.backtest import BacktestDocument
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource

READER, INGESTER = "reader-secret-0123456789", "ingest-secret-0123456789"
TOKENS = (TokenSpec("grafana", ("read",), READER), TokenSpec("collector", ("ingest",), INGESTER))
URL = "/api/v1/services/checkout/backtest"


class FakeRun:
    """Stands in for monitor.backtest.run.backtest (called in the route's worker thread); ``gate``,
    when set, holds every run until opened."""

    def __init__(self, result: Backtest | Exception | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.result = result or sample_backtest()
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.until_stopped = False  # run until asked to stop, as a long backtest would
        self.stopped = threading.Event()

    async def __call__(self, *args: Any, should_stop: Callable[[], bool], **kwargs: Any) -> Backtest:
        self.calls.append(args)
        self.started.set()
        if self.until_stopped:
            # The route's should_stop is its stop flag's is_set: wait on the flag itself.
            flag: threading.Event = should_stop.__self__  # type: ignore[attr-defined]
            flag.wait(10)
            assert should_stop()
            self.stopped.set()
            raise BacktestStopped("stopped")
        if self.gate is not None:
            self.gate.wait(10)  # in the backtest's own thread and loop: holding it holds no request
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


Opened = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def open_app(open_client: Opened) -> Opened:
    """``open_app(run, tokens=None, settings=Settings(), clock=None)``: a started client whose
    backtests run ``run``; its Prometheus is never asked."""

    def make(
        run: FakeRun,
        tokens: Sequence[TokenSpec] | None = None,
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> Awaitable[TestClient[Any, Any]]:
        def prepare(app: web.Application) -> None:
            app[BACKTESTS] = Backtests(run=run, clock=clock or Clock())

        return open_client("http://127.0.0.1:9", tokens, Notifier(settings or Settings()), prepare)

    return make


async def test_answers_the_backtest_document(open_app: Opened) -> None:
    run = FakeRun()
    client = await open_app(run)
    response = await client.get(URL, params={"since": "14d", "environment": "staging"})
    assert response.status == 200
    document = await response.json()
    BacktestDocument.model_validate(document)
    assert document["service"] == "checkout" and len(document["deploys"]) == 3
    [(source, service, environment, since, until, profile, settings)] = run.calls
    assert (service, environment, profile.name) == ("checkout", "staging", "otel-http")
    assert (until - since).total_seconds() == 14 * 86400
    assert isinstance(source, PrometheusSource) and isinstance(settings, Settings)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"since": "120d"}, "since", "spans 120 days, more than 90"),
        ({"since": "last week"}, "since", "is not a time"),
        ({"since": "2d", "until": "now-3d"}, "until", "is not after since"),
        ({"until": "now+1h"}, "until", "in the future"),
        ({"profile": "/etc/passwd"}, "profile", "is not available; use one of"),
        ({"environment": "\x00"}, "environment", "printable characters"),
        ({"service": "checkout"}, "service", "unknown query parameter"),
    ],
)
async def test_invalid_parameters_are_400_naming_them(
    open_app: Opened, params: dict[str, str], field: str, words: str
) -> None:
    run = FakeRun()
    client = await open_app(run)
    response = await client.get(URL, params=params)
    assert response.status == 400
    problem = await response.json()
    assert problem["field"] == field and words in problem["detail"]
    assert run.calls == []


async def test_needs_the_read_scope(open_app: Opened) -> None:
    client = await open_app(FakeRun(), TOKENS)
    assert (await client.get(URL)).status == 401
    assert (await client.get(URL, headers={"Authorization": f"Bearer {INGESTER}"})).status == 403
    assert (await client.get(URL, headers={"Authorization": f"Bearer {READER}"})).status == 200


async def test_callers_at_once_share_one_run_and_its_result_for_a_while(open_app: Opened) -> None:
    run, clock = FakeRun(), Clock()
    run.gate = threading.Event()
    client = await open_app(run, clock=clock)
    first = asyncio.ensure_future(client.get(URL))
    second = asyncio.ensure_future(client.get(URL))
    assert await asyncio.to_thread(run.started.wait, 10)  # one runs; the other waits on the lock
    assert (await client.get("/healthz")).status == 200  # the API answers while it runs
    run.gate.set()
    answers = [await (await first).json(), await (await second).json()]
    assert answers[0] == answers[1] and len(run.calls) == 1
    assert (await client.get(URL)).status == 200 and len(run.calls) == 1  # from the cache
    await client.get(URL, params={"profile": "prometheus-http"})  # another profile: its own run
    assert len(run.calls) == 2
    clock.now_s += CACHE_TTL_S + 1
    await client.get(URL)
    assert len(run.calls) == 3
    assert client.app[BACKTESTS].locks == 0  # none kept once nobody asks


async def test_a_caller_arriving_while_a_waiter_is_woken_joins_it_instead_of_running_again() -> None:
    # The first run fails (nothing cached); the second caller, woken to run it again, is not yet
    # running when a third arrives: the third must wait on the same lock, not start a run beside it.
    backtests = Backtests(clock=Clock())
    key = ("checkout", None, "otel-http", "30d", "now")
    gates = [asyncio.Event(), asyncio.Event()]
    entered = [asyncio.Event(), asyncio.Event()]
    calls: list[int] = []

    async def compute(stop: threading.Event) -> Backtest:
        n = len(calls)
        calls.append(n)
        if n < len(gates):
            entered[n].set()
            await gates[n].wait()
        if n == 0:
            raise SourceError("Prometheus refused the connection")
        return sample_backtest()

    first = asyncio.ensure_future(backtests.document(key, compute))
    await entered[0].wait()
    second = asyncio.ensure_future(backtests.document(key, compute))
    await asyncio.sleep(0)  # one turn of the loop: the second caller now waits on the lock
    gates[0].set()
    with pytest.raises(SourceError):
        await first  # released: the second caller is woken, not yet holding the lock
    third = asyncio.ensure_future(backtests.document(key, compute))
    await entered[1].wait()
    gates[1].set()
    assert await second == await third
    assert calls == [0, 1] and backtests.locks == 0


async def test_a_caller_going_away_stops_its_backtests_thread() -> None:
    backtests = Backtests(clock=Clock())
    key = ("checkout", None, "otel-http", "30d", "now")
    started, ended = threading.Event(), threading.Event()
    seen: list[bool] = []

    def blocking(stop: threading.Event) -> Backtest:
        started.set()
        seen.append(stop.wait(10))  # a backtest asking its flag between looks
        ended.set()
        raise BacktestStopped("stopped")

    async def compute(stop: threading.Event) -> Backtest:
        return await asyncio.to_thread(blocking, stop)

    caller = asyncio.ensure_future(backtests.document(key, compute))
    assert await asyncio.to_thread(started.wait, 10)
    assert backtests.running == 1
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await asyncio.to_thread(ended.wait, 10) and seen == [True]
    assert backtests.running == 0 and backtests.locks == 0


async def test_shutting_down_stops_a_running_backtest(open_app: Opened) -> None:
    run = FakeRun()
    run.until_stopped = True
    client = await open_app(run)
    pending = asyncio.ensure_future(client.get(URL))
    assert await asyncio.to_thread(run.started.wait, 10)
    await client.app.shutdown()  # the application's on_shutdown, as at exit
    assert await asyncio.to_thread(run.stopped.wait, 10)
    response = await pending
    assert response.status == 503 and "shutting down" in (await response.json())["detail"]
    assert client.app[BACKTESTS].running == 0


async def test_prometheus_down_is_502(open_app: Opened) -> None:
    down = SourceError("Prometheus http://admin:hunter2@prometheus:9090 refused the connection")
    client = await open_app(FakeRun(down))
    response = await client.get(URL)
    assert response.status == 502
    problem = await response.json()
    assert "refused the connection; retry shortly" in problem["detail"] and "hunter2" not in problem["detail"]


async def test_the_default_profile_is_the_environments(open_app: Opened) -> None:
    run = FakeRun()
    client = await open_app(run, settings=Settings(environment="production", profile="otel-http"))
    assert (await client.get(URL)).status == 200
    assert run.calls[0][2] == "production" and run.calls[0][5].name == "otel-http"


async def test_a_real_backtest_of_a_simulated_canary(
    prometheus: SimulatedPrometheus, open_client: Opened
) -> None:
    """The route with the library's backtest, in its worker thread, on the real Prometheus holding
    the scenarios: errors_3x's canary (baseline and canary both serving) is found and fails."""
    client = await open_client(prometheus.url, None)
    response = await client.get("/api/v1/services/errors_3x/backtest", params={"since": "8h"})
    assert response.status == 200, await response.text()
    document = await response.json()
    BacktestDocument.model_validate(document)
    run = prometheus.runs["errors_3x"]
    found = [(d["version"], d["baseline_version"], d["mode"]) for d in document["deploys"]]
    assert found == [(run.scenario.canary_version, run.scenario.baseline_version, "canary")]
    assert document["deploys"][0]["verdict"] == "fail"

"""The engine in a process of its own, supervised by ``monitor serve``.

Judging a look is CPU work. In the API's interpreter it would hold the GIL while pipelines wait
for verdicts, so by default the daemon runs the scheduler, the smoke probes' worker and the outbox
deliverer in a child process (started with ``spawn``, at a lower CPU priority) and keeps its own
event loop for requests. The child shares nothing but the database, which already coordinates replicas.

* The child serves its metrics on a Unix socket; the API's ``/metrics`` relays them.
* It dies with the API process (``PR_SET_PDEATHSIG`` on Linux): a replica killed with SIGKILL
  loses its engine too, and its leases expire as they should.
* SIGTERM to the daemon reaches the child through :meth:`EngineProcess.stop`; the child finishes
  the look in flight and releases its leases. A child that crashes is restarted with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from pathlib import Path

import aiohttp
from aiohttp import web

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings, load_settings
from monitor.engine.probing import ProbeWorker
from monitor.engine.request import RequestDefaults
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.environments import Environments
from monitor.errors import MonitorError
from monitor.otlp.pulled import telemetry_reader
from monitor.otlp.stored import StoredTelemetry
from monitor.own_metrics import EngineMetrics
from monitor.probes.runner import ProbeRunner
from monitor.probes.session import probe_session
from monitor.profiles.catalog import ProfileCatalog
from monitor.sources.connect import prometheus_source
from monitor.store import Store
from monitor.tracing import JsonFormatter, configure_tracing

log = logging.getLogger(__name__)
# The API answers pipelines waiting on a verdict; the engine's work can wait a few milliseconds.
ENGINE_NICENESS = 5
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
PROBE_CONCURRENCY = 8  # smoke-probe attempts in flight at once, over all deployments
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class EngineOptions:
    """Everything the engine needs, sent to the child through a pipe (never on its command line)."""

    database_url: str
    prometheus_url: str
    config_path: str | None
    owner: str
    lease_s: float
    metrics_socket: str | None = None
    parent_pid: int = 0


def scheduler_settings(options: EngineOptions, settings: Settings) -> SchedulerSettings:
    """This replica's share of the work, and what the config adds to every analysis."""
    return SchedulerSettings(
        owner=options.owner,
        lease_s=options.lease_s,
        request=RequestDefaults.from_settings(settings),
        settle_s=settings.settle_s,
    )


async def run_engine(
    options: EngineOptions,
    settings: Settings,
    profiles: ProfileCatalog,
    stop: asyncio.Event,
    metrics: EngineMetrics,
) -> None:
    """Evaluate due deployments, make their probes' attempts and deliver the outbox until ``stop``."""
    store = await Store.open(options.database_url)
    source = prometheus_source(settings, options.prometheus_url)  # with the configured credentials
    deliverer = Deliverer(store, channels=channels_for(settings, store, metrics), metrics=metrics)
    probe_client = probe_session()  # one for every attempt, without cookies
    try:
        prober = ProbeWorker(
            store, settings.probes, ProbeRunner(probe_client, PROBE_CONCURRENCY), metrics=metrics,
            slots=PROBE_CONCURRENCY,
        )  # fmt: skip
        placement = scheduler_settings(options, settings)
        scheduler = Scheduler(
            store, source, profiles.get, placement, notifier=Notifier(settings), metrics=metrics,
            telemetry=telemetry_reader(
                settings.sources, settings.logs_from, settings.traces_from, StoredTelemetry(store)
            ),
        )  # fmt: skip
        await asyncio.gather(scheduler.run(stop), deliverer.run(stop), prober.run(stop))
    finally:
        await probe_client.close()
        await deliverer.close()
        await source.close()
        await store.close()


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died while this process was starting, before the signal was armed.
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)


async def _serve_metrics(metrics: EngineMetrics, path: str) -> web.AppRunner:
    async def exposition(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", exposition)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, path).start()
    return runner


async def _child(options: EngineOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    settings = load_settings(None if options.config_path is None else Path(options.config_path))
    metrics = EngineMetrics()
    runner = await _serve_metrics(metrics, options.metrics_socket) if options.metrics_socket else None
    try:
        catalog = ProfileCatalog(Environments(settings.environments).profiles)
        await run_engine(options, settings, catalog, stop, metrics)
    finally:
        if runner is not None:
            await runner.cleanup()


def engine_main(options: EngineOptions) -> None:
    """Entry point of the engine's process."""
    _die_with_parent(options.parent_pid)
    with contextlib.suppress(OSError):
        os.nice(ENGINE_NICENESS)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    configure_tracing()
    try:
        asyncio.run(_child(options))
    except MonitorError as exc:
        log.error("engine: %s", exc)
        sys.exit(3)


class EngineProcess:
    """The supervised engine child of one ``monitor serve``."""

    def __init__(self, options: EngineOptions) -> None:
        self._options = options
        self._process: BaseProcess | None = None
        self._stopping = False

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the child."""
        if self._options.metrics_socket:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._options.metrics_socket)
        options = replace(self._options, parent_pid=os.getpid())
        process = multiprocessing.get_context("spawn").Process(
            target=engine_main, args=(options,), name="monitor-engine", daemon=True
        )
        process.start()
        self._process = process
        log.info("engine process %d started", process.pid)

    async def supervise(self) -> None:
        """Restart the child whenever it exits on its own, with backoff, until :meth:`stop`."""
        failures = 0
        while not self._stopping:
            process = self._process
            if process is None:
                return
            await asyncio.to_thread(process.join)
            if self._stopping:
                return
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            log.error("engine process exited with %s; restarting in %.0f s", process.exitcode, delay)
            failures += 1
            await asyncio.sleep(delay)
            if not self._stopping:
                self.start()

    async def stop(self, timeout_s: float) -> bool:
        """SIGTERM the child and wait up to ``timeout_s``; kill it after. True when it drained."""
        self._stopping = True
        process = self._process
        if process is None or not process.is_alive():
            return True
        process.terminate()
        await asyncio.to_thread(process.join, timeout_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5.0)
            return False
        return True

    async def metrics(self) -> bytes:
        """The child's metrics exposition, over its Unix socket."""
        if not self._options.metrics_socket or not self.alive:
            raise ConnectionRefusedError("the engine process is not running")
        connector = aiohttp.UnixConnector(path=self._options.metrics_socket)
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get("http://engine/metrics") as response,
        ):
            response.raise_for_status()
            return await response.read()

"""``monitor serve``: the API, and the engine in its own process (or inline), with a graceful SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable
from dataclasses import replace
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from monitor.actions.notify import Notifier
from monitor.api.app import create_app
from monitor.cli import EXIT_ERROR
from monitor.config import load_settings
from monitor.engine.process import EngineOptions, EngineProcess, run_engine
from monitor.environments import Environments
from monitor.errors import InputError, MonitorError
from monitor.profiles import Profile, load_profile
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store
from monitor.telemetry import EngineMetrics, MonitorMetrics
from monitor.timeparse import parse_duration_s
from monitor.tracing import JsonFormatter, configure_tracing

log = logging.getLogger("monitor.serve")
DRAIN_TIMEOUT_S = 30.0


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--listen {value!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


@cache
def _profile(name: str) -> Profile:
    return load_profile(name)


async def _serve(args: argparse.Namespace) -> None:
    host, port = _listen(args.listen)
    prometheus_url = args.prometheus_url or args.settings.prometheus_url
    if not prometheus_url:
        raise InputError("no Prometheus URL; pass --prometheus-url or set MONITOR_PROMETHEUS_URL")
    store = await Store.open(args.database)  # applies the migrations before the engine starts
    source = PrometheusSource(prometheus_url)
    owner = f"{socket.gethostname()}-{os.getpid()}"
    settings = args.settings
    options = EngineOptions(
        database_url=args.database, prometheus_url=prometheus_url, config_path=args.config, owner=owner,
        lease_s=parse_duration_s(args.lease, "--lease"),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="monitor-engine-") as sockets:
        stop = asyncio.Event()
        if args.engine == "process":
            child = EngineProcess(replace(options, metrics_socket=os.path.join(sockets, "metrics.sock")))
            telemetry = MonitorMetrics(remote_engine=child.metrics)
            child.start()
            engine: Awaitable[object] = child.supervise()
        else:
            child, metrics = None, EngineMetrics()
            telemetry = MonitorMetrics(metrics)
            engine = run_engine(options, settings, _profile, stop, metrics)
        tokens = None if args.insecure_no_auth else settings.tokens
        environments = Environments(settings.environments)
        app = create_app(
            store,
            source,
            tokens,
            environments,
            telemetry,
            trace_url=settings.trace_url,
            notifier=Notifier(settings, environments),
        )
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        workers = asyncio.ensure_future(engine)
        try:
            await web.TCPSite(runner, host, port).start()
            log.info(
                "listening on http://%s:%d (replica %s, database %s, engine %s)",
                host, port, owner, _redacted(args.database), args.engine,
            )  # fmt: skip
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await asyncio.wait([workers, asyncio.ensure_future(stop.wait())], return_when="FIRST_COMPLETED")
            # Stop intake first (waiting gates reconnect to another replica or after the restart),
            # then let the look in flight finish; the engine releases its leases as it returns.
            await runner.cleanup()
            log.info("stopping: finishing the evaluation in flight (at most %.0f s)", DRAIN_TIMEOUT_S)
            stop.set()
            drained = await child.stop(DRAIN_TIMEOUT_S) if child is not None else True
            try:
                await asyncio.wait_for(workers, DRAIN_TIMEOUT_S)
            except TimeoutError:
                drained = False
            if not drained:
                log.warning("evaluation still running after %.0f s; leases will expire", DRAIN_TIMEOUT_S)
        finally:
            if child is not None:
                await child.stop(0)
            await runner.cleanup()
            await source.close()
            await store.close()


def run_serve(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or SIGINT; exit 3 on a start-up error."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if configure_tracing():
        log.info("exporting traces over OTLP/HTTP")
    try:
        args.settings = load_settings(Path(args.config) if args.config else None)
        if not args.insecure_no_auth and not args.settings.tokens:
            raise InputError(
                "no API tokens configured; add tokens: to --config (name, scopes, token_file) "
                "or pass --insecure-no-auth for local development"
            )
        if args.insecure_no_auth:
            log.warning("AUTHENTICATION IS OFF (--insecure-no-auth): do not expose this port")
        else:
            log.info(
                "API tokens: %s", ", ".join(f"{t.name} ({'/'.join(t.scopes)})" for t in args.settings.tokens)
            )
        asyncio.run(_serve(args))
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _redacted(url: str) -> str:
    """``url`` without its password, for logs (the chart passes the database URL with one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))

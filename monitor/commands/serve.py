"""``monitor serve``: the API and the engine loop in one process, with a graceful SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from functools import cache
from pathlib import Path

from aiohttp import web

from monitor.actions.outbox import Deliverer
from monitor.api.app import create_app
from monitor.cli import EXIT_ERROR
from monitor.config import load_settings
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.environments import Environments
from monitor.errors import InputError, MonitorError
from monitor.profiles import Profile, load_profile
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store
from monitor.telemetry import MonitorMetrics
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
    store = await Store.open(args.database)
    source = PrometheusSource(prometheus_url)
    owner = f"{socket.gethostname()}-{os.getpid()}"
    settings = args.settings
    telemetry = MonitorMetrics()
    lease_s = parse_duration_s(args.lease, "--lease")
    scheduler = Scheduler(
        store, source, _profile, SchedulerSettings(owner=owner, lease_s=lease_s),
        webhooks=settings.webhooks, metrics=telemetry,
    )  # fmt: skip
    deliverer = Deliverer(store, settings.webhooks)
    tokens = None if args.insecure_no_auth else settings.tokens
    app = create_app(store, source, tokens, Environments(settings.environments), telemetry)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("listening on http://%s:%d (replica %s, database %s)", host, port, owner, args.database)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        workers = asyncio.gather(scheduler.run(stop), deliverer.run(stop))
        await stop.wait()
        # Stop intake first (waiting gates reconnect to another replica or after the restart),
        # then let the look in flight finish; the engine releases its leases as it returns.
        await runner.cleanup()
        log.info("stopping: finishing the evaluation in flight (at most %.0f s)", DRAIN_TIMEOUT_S)
        try:
            await asyncio.wait_for(workers, DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("evaluation still running after %.0f s; leases will expire", DRAIN_TIMEOUT_S)
    finally:
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

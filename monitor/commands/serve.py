"""``monitor serve``: the API, and the engine in its own process (or inline), with a graceful SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from monitor.api.access_log import RedactingAccessLogger
from monitor.api.app import create_app
from monitor.channels.notify import Notifier
from monitor.cliargs import check_url
from monitor.config import load_settings
from monitor.engine.process import EngineOptions, EngineProcess, run_engine
from monitor.environments import Environments
from monitor.envvars import env
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR
from monitor.own_metrics import EngineMetrics, MonitorMetrics
from monitor.profiles.catalog import ProfileCatalog
from monitor.sources.connect import prometheus_source
from monitor.store import Store
from monitor.store.engine import async_url
from monitor.timeparse import parse_duration_s
from monitor.tracing import JsonFormatter, configure_tracing

log = logging.getLogger("monitor.serve")
DRAIN_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 128  # aiohttp's default for the sites it binds itself


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::]:8080
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--listen {value!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of ``host``, bound before any other work.

    A port already in use is one line naming it and the flag to change, before the database is
    opened or migrated and before the engine starts; the sockets are then served as they are, so
    no other process can take the port in between.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(
            f"--listen {host}:{port}: cannot resolve {host!r} ({exc.strerror}); "
            "use an address such as 0.0.0.0 or 127.0.0.1"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio does: one socket per family
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise InputError(
                        f"port {port} on {host} is in use; choose another with --listen {host}:PORT"
                    ) from None
                raise InputError(
                    f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --listen"
                ) from None
            sock.listen(LISTEN_BACKLOG)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def _serve(args: argparse.Namespace, listening: list[socket.socket]) -> None:
    host, port = _listen(args.listen)
    prometheus_url = args.prometheus_url or args.settings.prometheus_url
    store = await Store.open(args.database)  # applies the migrations before the engine starts
    source = prometheus_source(args.settings, prometheus_url)  # with the configured credentials
    owner = f"{socket.gethostname()}-{os.getpid()}"
    settings = args.settings
    options = EngineOptions(
        database_url=args.database, prometheus_url=prometheus_url, config_path=args.config, owner=owner,
        lease_s=parse_duration_s(args.lease, "--lease"),
    )  # fmt: skip
    environments = Environments(settings.environments)
    profiles = ProfileCatalog(environments.profiles)  # the API's and an inline engine's
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
            engine = run_engine(options, settings, profiles, stop, metrics)
        tokens = None if args.insecure_no_auth else settings.tokens
        app = create_app(
            store,
            source,
            tokens,
            environments,
            telemetry,
            trace_url=settings.trace_url,
            notifier=Notifier(settings, environments),
            profiles=profiles,
        )
        runner = web.AppRunner(app, handle_signals=False, access_log_class=RedactingAccessLogger)
        await runner.setup()
        workers = asyncio.ensure_future(engine)
        try:
            for sock in listening:
                await web.SockSite(runner, sock).start()
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


def _check_arguments(args: argparse.Namespace) -> tuple[str, int]:
    """Everything that can be wrong with the flags, before any work; ``(host, port)`` to listen on."""
    listen = _listen(args.listen)
    if not args.prometheus_url:  # checked as a URL as it was parsed, from the flag or the variable
        raise InputError("no Prometheus URL; pass --prometheus-url or set MONITOR_PROMETHEUS_URL")
    for name in ("MONITOR_PUBLIC_URL", "MONITOR_TRACE_URL"):
        if value := env(name):
            check_url(value, name)
    parse_duration_s(args.lease, "--lease")
    async_url(args.database)
    return listen


def run_serve(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or SIGINT; exit 3 on a start-up error.

    The arguments are checked and the port bound first: a mistake or a busy port is one line on
    stderr, before the database is touched.
    """
    try:
        sockets = bind(*_check_arguments(args))
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return _run(args, sockets)
    finally:
        for sock in sockets:
            sock.close()


def _run(args: argparse.Namespace, sockets: list[socket.socket]) -> int:
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
        asyncio.run(_serve(args, sockets))
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

"""What the fakes share: an aiohttp application served by a background thread with its own event loop.

:class:`BackgroundHTTPServer` is the lifecycle (``start``/``stop``, context manager, free port, ``url``,
HTTPS with a throw-away CA when ``tls=True``); :class:`FakeServer` adds what every fake offers tests on top of
it: one lock over all state, the recorded requests (:attr:`FakeServer.requests`,
:meth:`FakeServer.requests_to`) and scripted failures (``fail_next``, matched by :meth:`FakeServer._record`
or :meth:`FakeServer._take_failure`). The fakes themselves (``grafana.py``, ``kubernetes.py``,
``argocd.py``) implement :meth:`BackgroundHTTPServer._handle` and their own ``fail_next`` default bodies.

Served from a background thread, a fake answers synchronous clients (``urllib``, ``kubernetes``,
``grafana-client``, Helm's Go client) and async code in the pytest-asyncio loop alike.
"""

from __future__ import annotations

import asyncio
import copy
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

from monitor.simulate.prometheus import free_port

# --------------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """A throw-away CA and a server certificate for ``127.0.0.1``/``localhost`` signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls_files(directory: Path | str) -> TLSFiles:
    """Create a CA and a server certificate (SANs ``IP:127.0.0.1``, ``DNS:localhost``) with the ``openssl``
    command (no Python crypto package is needed); EC P-256 keys, valid for a day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("tls=True needs the openssl command")
    directory = Path(directory)
    ca_key, ca_file = directory / "ca.key", directory / "ca.crt"
    key_file, csr, cert_file = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_file, "-days", "1",
         "-subj", "/CN=fake-ca", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", "-new", *ec, "-keyout", key_file, "-out", csr, "-subj", "/CN=kube-apiserver"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert_file, "-days", "1", "-extfile", extensions],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=60)
    return TLSFiles(ca_file=ca_file, cert_file=cert_file, key_file=key_file)


# --------------------------------------------------------------------------------------------------
# The background server
# --------------------------------------------------------------------------------------------------


class BackgroundHTTPServer:
    """An aiohttp application on ``127.0.0.1`` and a free port, served by a background thread with its own
    event loop; HTTPS with a throw-away CA when ``tls=True``. Subclasses implement :meth:`_handle`."""

    _server_name = "fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, tls: bool = False) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._tls = tls
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._tls_files: TLSFiles | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> Self:
        """Serve in a background thread; returns once the port is bound."""
        if self._loop is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        if self._tls and self._tls_files is None:
            self._tls_dir = tempfile.TemporaryDirectory(prefix=f"{self._server_name}-tls-")
            self._tls_files = make_tls_files(self._tls_dir.name)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self._server_name, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); the state stays readable."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        try:
            if runner is not None:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()
            self._loop = self._thread = self._runner = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return self._port

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:PORT`` (``https://`` with ``tls=True``)."""
        return f"{'https' if self._tls else 'http'}://{self._host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) that signed the server certificate; only with ``tls=True``."""
        if self._tls_files is None:
            raise RuntimeError(f"{type(self).__name__} serves TLS only when built with tls=True and started")
        return self._tls_files.ca_file

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting :attr:`ca_file`."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        context: ssl.SSLContext | None = None
        if self._tls_files is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._tls_files.cert_file, self._tls_files.key_file)
        last: OSError | None = None
        for _ in range(20):
            port = self._requested_port or free_port(self._host)
            site = web.TCPSite(runner, self._host, port, ssl_context=context)
            try:
                await site.start()
            except OSError as exc:  # another process took the free port in between
                last = exc
                if self._requested_port:
                    break
                continue
            self._runner, self._port = runner, port
            return
        await runner.cleanup()
        raise RuntimeError(f"{type(self).__name__} could not bind a port on {self._host}") from last


# --------------------------------------------------------------------------------------------------
# Recorded requests and scripted failures
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """What every fake records of a request; each fake's own ``RecordedRequest`` adds its fields."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedFailure:
    """An answer ``fail_next`` scripted for the next ``remaining`` matching requests."""

    method: str  # upper case, or "*"
    path_prefix: str
    status: int
    remaining: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def split_target(raw_path: str) -> tuple[str, dict[str, list[str]]]:
    """The decoded path and the parsed query string of a request target (``/a%2Fb?x=1&y=``)."""
    path_part, _, query_string = raw_path.partition("?")
    return urllib.parse.unquote(path_part), urllib.parse.parse_qs(query_string, keep_blank_values=True)


def pick_headers(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The headers among ``names`` that the request has."""
    return {name: headers[name] for name in names if name in headers}


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``"Service Unavailable"``), ``"scripted failure"`` if unknown."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "scripted failure"


RecordedT = TypeVar("RecordedT", bound=RecordedRequest)


class FakeServer(BackgroundHTTPServer, Generic[RecordedT]):
    """A :class:`BackgroundHTTPServer` that keeps all state behind one lock (``_lock``), records the requests
    it receives and answers scripted failures first.

    Subclasses call :meth:`_forget_requests` from their ``reset`` and, under the lock, :meth:`_record` (or
    ``_requests.append`` and later :meth:`_take_failure`) for every request.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, tls: bool = False) -> None:
        super().__init__(host=host, port=port, tls=tls)
        self._lock = threading.RLock()
        self._requests: list[RecordedT] = []
        self._failures: list[ScriptedFailure] = []

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedT]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def requests_to(self, method: str, path_prefix: str = "/api") -> list[RecordedT]:
        """Recorded requests with this method (or ``"*"``) whose path starts with ``path_prefix``."""
        return [
            r
            for r in self.requests
            if (method == "*" or r.method == method.upper()) and r.path.startswith(path_prefix)
        ]

    def _forget_requests(self) -> None:
        """Forget the recorded requests and the scripted failures (call with the lock held)."""
        self._requests = []
        self._failures = []

    def _script_failure(
        self,
        method: str,
        path_prefix: str,
        status: int,
        times: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``"*"``) and ``path_prefix`` with
        ``status``, ``body`` and ``headers`` (the shared part of every fake's ``fail_next``)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        failure = ScriptedFailure(method.upper(), path_prefix, status, times, body, dict(headers or {}))
        with self._lock:
            self._failures.append(failure)

    def _take_failure(self, method: str, path: str) -> ScriptedFailure | None:
        """The first scripted failure for this request, counted down (a copy: its body is the caller's to
        answer); None when no failure is scripted for it. Call with the lock held."""
        for failure in self._failures:
            if failure.method in ("*", method) and path.startswith(failure.path_prefix):
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                return replace(failure, body=copy.deepcopy(failure.body), headers=dict(failure.headers))
        return None

    def _record(self, recorded: RecordedT) -> ScriptedFailure | None:
        """Record a request and take the scripted failure it is to be answered with, if any. Call with the
        lock held."""
        self._requests.append(recorded)
        return self._take_failure(recorded.method, recorded.path)


class PlainTextFake(FakeServer[RecordedRequest]):
    """A fake whose scripted failures answer plain text, as Loki's and Tempo's errors do."""

    def fail_next(
        self, method: str, path_prefix: str, status: int, times: int = 1, body: str = "scripted failure"
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a plain-text ``body``."""
        self._script_failure(method, path_prefix, status, times, body)

    def _admit(self, request: web.Request) -> tuple[str, dict[str, list[str]], web.Response | None]:
        """Record ``request``: its path, its query, and the scripted failure to answer, if any."""
        path, query = split_target(request.raw_path)
        recorded = RecordedRequest(
            request.method, path, query, pick_headers(request.headers, ("X-Scope-OrgID",)), None
        )
        with self._lock:
            failure = self._record(recorded)
        answer = None if failure is None else web.Response(status=failure.status, text=str(failure.body))
        return path, query, answer

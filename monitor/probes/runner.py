"""One probe attempt over aiohttp, bounded, to a typed result; and a series of attempts.

Bounds: each attempt has the probe's timeout (redirects included), a semaphore caps the attempts in
flight, a URL must name one of the probe's hosts, and a redirect to another host is followed only when
the probe allows that host. Header values (secrets) never reach a result: they are masked in the body.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp

from monitor.models import ProbeSpec
from monitor.probes.result import ErrorKind, ProbeResult
from monitor.probes.spec import json_path, url_host
from monitor.redact import redact_url

BODY_HEAD_BYTES = 512
_BODY_LIMIT_BYTES = 1 << 20  # enough for JSON assertions; a larger body is cut, not buffered whole
_MAX_REDIRECTS = 5


class ProbeRunner:
    """Runs probe attempts over one aiohttp session with at most ``concurrency`` in flight."""

    def __init__(self, session: aiohttp.ClientSession, concurrency: int = 8) -> None:
        self._session = session
        self._slots = asyncio.Semaphore(concurrency)

    async def attempt(self, spec: ProbeSpec, url: str, role: str = "canary") -> ProbeResult:
        """One attempt of ``spec`` at the rendered ``url``, stamped with its start and ``role``."""
        at = datetime.now(UTC)
        return replace(await self._attempt(spec, url), at=at, role=role)

    async def _attempt(self, spec: ProbeSpec, url: str) -> ProbeResult:
        shown = redact_url(url)
        if url_host(url) not in spec.allowed_hosts():
            return ProbeResult(
                spec.name,
                shown,
                False,
                error=ErrorKind.HOST_NOT_ALLOWED,
                detail=f"host {url_host(url)!r} is not one of the probe's hosts",
            )
        async with self._slots:
            started = time.monotonic()
            try:
                async with asyncio.timeout(spec.timeout_s):
                    return await self._follow(spec, url, shown, started)
            except TimeoutError:
                return ProbeResult(
                    spec.name,
                    shown,
                    False,
                    latency_s=time.monotonic() - started,
                    error=ErrorKind.TIMEOUT,
                    detail=f"no answer within {spec.timeout_s:g} s",
                )
            except aiohttp.ClientError as exc:
                kind, detail = _classify(exc)
                return ProbeResult(
                    spec.name, shown, False, latency_s=time.monotonic() - started, error=kind, detail=detail
                )

    async def series(
        self,
        spec: ProbeSpec,
        url: str,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        role: str = "canary",
    ) -> AsyncIterator[ProbeResult]:
        """``spec.count`` attempts, ``spec.interval_s`` apart."""
        for index in range(spec.count):
            if index:
                await sleep(spec.interval_s)
            yield await self.attempt(spec, url, role)

    async def _follow(self, spec: ProbeSpec, url: str, shown: str, started: float) -> ProbeResult:
        headers = dict(spec.headers)
        secrets = [value for _, value in spec.headers if value]
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            async with self._session.request(
                spec.method, current, headers=headers, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    target = urljoin(current, location)
                    host = url_host(target)
                    if host != url_host(current) and host not in {h.lower() for h in spec.redirect_hosts}:
                        return ProbeResult(
                            spec.name,
                            shown,
                            False,
                            status=response.status,
                            latency_s=time.monotonic() - started,
                            error=ErrorKind.REDIRECT_REFUSED,
                            detail=f"redirect to host {host!r}, which the probe does not allow",
                        )
                    current = target
                    continue
                body = await response.content.read(_BODY_LIMIT_BYTES)
                latency_s = time.monotonic() - started
                failed = _assertion_failed(spec, response.status, latency_s, body)
                return ProbeResult(
                    spec.name,
                    shown,
                    failed is None,
                    status=response.status,
                    latency_s=latency_s,
                    body_head=_head(body, secrets),
                    failed=failed,
                )
        return ProbeResult(
            spec.name,
            shown,
            False,
            latency_s=time.monotonic() - started,
            error=ErrorKind.REDIRECT_REFUSED,
            detail=f"more than {_MAX_REDIRECTS} redirects",
        )


def _head(body: bytes, secrets: list[str]) -> str:
    """The body's first bytes as text, any header secret masked (an echoing server must not leak it)."""
    text = body.decode("utf-8", "replace")
    for secret in secrets:
        text = text.replace(secret, "***")
    return text.encode("utf-8")[:BODY_HEAD_BYTES].decode("utf-8", "ignore")


def _assertion_failed(spec: ProbeSpec, status: int, latency_s: float, body: bytes) -> str | None:
    """The first assertion the answer fails, in words; None when it passes them all."""
    if status not in spec.expected_status:
        return f"status {status}, expected {' or '.join(map(str, spec.expected_status))}"
    if spec.max_latency_s is not None and latency_s > spec.max_latency_s:
        return f"latency {latency_s:.3f} s above {spec.max_latency_s:g} s"
    if spec.body_contains is not None and spec.body_contains not in body.decode("utf-8", "replace"):
        return f"body does not contain {spec.body_contains!r}"
    if spec.json_equals or spec.json_exists:
        try:
            document = json.loads(body)
        except ValueError:
            return "body is not JSON"
        for path in spec.json_exists:
            if not json_path(document, path)[0]:
                return f"JSON path {path!r} does not exist"
        for path, expected in spec.json_equals:
            found, value = json_path(document, path)
            if not found:
                return f"JSON path {path!r} does not exist"
            # True == 1 in Python; a JSON true is not the number 1.
            if value != expected or isinstance(value, bool) != isinstance(expected, bool):
                return f"JSON path {path!r} is {value!r}, expected {expected!r}"
    return None


def _classify(exc: aiohttp.ClientError) -> tuple[ErrorKind, str]:
    """The error kind of a failed request and a detail naming it (no URL, no header)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ErrorKind.TLS, f"TLS: certificate verify failed ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientSSLError):
        return ErrorKind.TLS, f"TLS: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror)
    ):
        return ErrorKind.DNS, f"DNS: name not resolved ({exc.host})"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, ConnectionRefusedError):
        return ErrorKind.CONNECTION_REFUSED, f"connection refused ({exc.host}:{exc.port})"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ErrorKind.TIMEOUT, "timeout"
    if isinstance(getattr(exc, "os_error", None), ssl.SSLError):
        return ErrorKind.TLS, f"TLS: {exc}"
    return ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}"

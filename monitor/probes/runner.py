"""One probe attempt over aiohttp, bounded, to a typed result; and a series of attempts.

Bounds: each attempt has the probe's timeout (redirects included), a semaphore caps the attempts in
flight, a URL must name one of the probe's hosts, a redirect to another host is followed only when
the probe allows that host, and the body is read up to :data:`BODY_LIMIT_BYTES`. Whatever the answer
(a broken ``Location``, a body nested beyond the parser), an attempt ends as a result, never an
exception.

Header values (secrets) go only to the attempt's own origin (scheme, host and port): a redirect
elsewhere, an https->http downgrade included, is followed without them. They never reach a result:
they are masked in the body's head and in an assertion's words. A URL never reaches a result's
``detail`` with its query token: every detail goes through :func:`~monitor.redact.redact_text`.
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
from monitor.probes.spec import json_path, url_host, url_origin
from monitor.redact import redact_body, redact_text, redact_url

BODY_HEAD_BYTES = 512
BODY_LIMIT_BYTES = 1 << 20  # enough for JSON assertions; a larger body is cut, not buffered whole
_MAX_REDIRECTS = 5


class ProbeRunner:
    """Runs probe attempts over one aiohttp session with at most ``concurrency`` in flight."""

    def __init__(self, session: aiohttp.ClientSession, concurrency: int = 8) -> None:
        self._session = session
        self._slots = asyncio.Semaphore(concurrency)

    async def attempt(self, spec: ProbeSpec, url: str, role: str = "canary") -> ProbeResult:
        """One attempt of ``spec`` at the rendered ``url``, stamped with its start and ``role``."""
        at = datetime.now(UTC)
        result = await self._attempt(spec, url)
        # The detail is stored, logged and printed: whatever URL the client's words hold is masked.
        return replace(result, at=at, role=role, detail=redact_text(result.detail))

    async def _attempt(self, spec: ProbeSpec, url: str) -> ProbeResult:
        shown = redact_url(url)
        try:
            host = url_host(url)
        except ValueError:
            return ProbeResult(
                spec.name, shown, False, error=ErrorKind.CONNECTION, detail="invalid URL: it cannot be parsed"
            )
        if host not in spec.allowed_hosts():
            return ProbeResult(
                spec.name,
                shown,
                False,
                error=ErrorKind.HOST_NOT_ALLOWED,
                detail=f"host {host!r} is not one of the probe's hosts",
            )
        async with self._slots:
            started = time.monotonic()
            try:
                async with asyncio.timeout(spec.timeout_s):
                    return await self._follow(spec, url, shown, started)
            except TimeoutError:
                kind, detail = ErrorKind.TIMEOUT, f"no answer within {spec.timeout_s:g} s"
            except aiohttp.ClientError as exc:
                kind, detail = _classify(exc)
            except ValueError as exc:  # a URL or an answer the client could not handle (no secret in it)
                kind, detail = ErrorKind.CONNECTION, f"invalid request or answer ({type(exc).__name__})"
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
        secrets = [value for _, value in spec.headers if value]
        own = url_origin(url)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            # The headers carry secrets: they go to the attempt's own origin only, never where a
            # redirect leads elsewhere (another host, port, or http after https).
            headers = dict(spec.headers) if url_origin(current) == own else {}
            async with self._session.request(
                spec.method, current, headers=headers, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    refused, target = _redirect(spec, current, location)
                    if refused is not None:
                        return ProbeResult(
                            spec.name,
                            shown,
                            False,
                            status=response.status,
                            latency_s=time.monotonic() - started,
                            error=ErrorKind.REDIRECT_REFUSED,
                            detail=refused,
                        )
                    current = target
                    continue
                body = await _read_body(response.content)
                latency_s = time.monotonic() - started
                failed = _assertion_failed(spec, response.status, latency_s, body)
                if failed is not None:
                    failed = _mask(failed, secrets)
                    if spec.headers and not headers:
                        failed += " (sent without its headers: a redirect left the probe's origin)"
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


def _redirect(spec: ProbeSpec, current: str, location: str) -> tuple[str | None, str]:
    """``(why it is refused, None when it is not; the absolute target)`` of a redirect to ``location``."""
    try:
        target = urljoin(current, location)
        scheme, host, _ = url_origin(target)
    except ValueError:  # e.g. "http://[oops": the server's words, not ours to crash on
        return "redirect to an invalid address (its Location cannot be parsed)", ""
    if scheme not in ("http", "https"):
        return f"redirect to a non-HTTP address ({scheme}:), which a probe never follows", ""
    if host != url_host(current) and host not in {h.lower() for h in spec.redirect_hosts}:
        return f"redirect to host {host!r}, which the probe does not allow", ""
    return None, target


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The body up to :data:`BODY_LIMIT_BYTES`, however many pieces it arrives in (``read(n)``
    alone returns what has arrived so far: a body sent in two pieces would be judged by its first)."""
    body = bytearray()
    async for chunk in content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) >= BODY_LIMIT_BYTES:
            del body[BODY_LIMIT_BYTES:]
            break
    return bytes(body)


def _mask(text: str, secrets: list[str]) -> str:
    """``text`` with every header secret masked (an echoing server must not leak them)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _head(body: bytes, secrets: list[str]) -> str:
    """The body's first bytes as text, any header secret and credential-like value masked (an
    echoing server must not leak it)."""
    text = redact_body(_mask(body.decode("utf-8", "replace"), secrets))
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
        except RecursionError:  # a hostile or broken body must fail the attempt, not the runner
            return "body is JSON nested too deeply to read"
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
    if isinstance(exc, aiohttp.InvalidURL):  # its words hold the URL, which may hold a token
        return ErrorKind.CONNECTION, "invalid URL: the client cannot request it"
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
    if isinstance(exc, aiohttp.ClientResponseError):  # str(exc) holds the whole URL, its token too
        return ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc.status}, {exc.message}"
    if isinstance(getattr(exc, "os_error", None), ssl.SSLError):
        return ErrorKind.TLS, f"TLS: {exc}"
    return ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}"

"""The probe runner against answers that are slow to arrive, broken or hostile: a body in pieces, a
``Location`` that cannot be parsed, JSON nested beyond the parser, redirects off the probe's origin
(header secrets must not follow) and an answer echoing a secret into an assertion's words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from probe_server import self_signed_context

from monitor.probes import runner as runner_module
from monitor.probes.result import ErrorKind
from monitor.probes.runner import ProbeRunner
from monitor.probes.spec import ProbeSpec

SECRET = "Bearer hostile-test-secret-9f8e7d"


@dataclass
class Servers:
    """An HTTP server (``http``), an HTTPS one (``https``, self-signed) and what each request carried."""

    http: int = 0
    https: int = 0
    other: int = 0  # a second HTTP server: the same host, another port
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization header)


async def _app(servers: Servers) -> web.Application:
    async def pieces(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"status": "o')
        await asyncio.sleep(0.2)  # the client has the first piece long before the second is sent
        await response.write(b'k", "ready": true, "marker": "tail-of-the-body"}')
        await response.write_eof()
        return response

    async def bad_location(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "http://[oops"})

    async def nested(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 200_000 + b"]" * 200_000, content_type="application/json")

    async def echo(request: web.Request) -> web.Response:
        servers.seen.append((request.path, request.headers.get("Authorization", "")))
        return web.json_response({"token": request.headers.get("Authorization", "")})

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def huge_header(request: web.Request) -> web.Response:
        # Beyond the client's 8190-byte header limit: it refuses the answer with ClientResponseError.
        return web.Response(text="ok", headers={"X-Huge": "a" * 9000})

    app = web.Application()
    app.router.add_get("/pieces", pieces)
    app.router.add_get("/bad-location", bad_location)
    app.router.add_get("/nested", nested)
    app.router.add_get("/echo", echo)
    app.router.add_get("/away", away)
    app.router.add_get("/huge-header", huge_header)
    return app


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    state = Servers()
    plain, secure, other = [web.AppRunner(await _app(state)) for _ in range(3)]
    for server in (plain, secure, other):
        await server.setup()
    await web.TCPSite(plain, "127.0.0.1", 0).start()
    await web.TCPSite(secure, "127.0.0.1", 0, ssl_context=self_signed_context(tmp_path)).start()
    await web.TCPSite(other, "127.0.0.1", 0).start()
    state.http, state.https, state.other = (s.addresses[0][1] for s in (plain, secure, other))
    yield state
    for server in (plain, secure, other):
        await server.cleanup()


@pytest.fixture
async def runner() -> AsyncIterator[ProbeRunner]:
    # The self-signed certificate is accepted: these tests are about what follows the handshake.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        yield ProbeRunner(session, concurrency=4)


def _spec(**fields: object) -> ProbeSpec:
    return ProbeSpec(**{"name": "smoke", "url": "http://127.0.0.1/", "timeout_s": 3.0, **fields})  # type: ignore[arg-type]


async def test_a_body_sent_in_two_pieces_is_judged_whole(servers: Servers, runner: ProbeRunner) -> None:
    spec = _spec(body_contains="tail-of-the-body", json_equals=(("status", "ok"), ("ready", True)))
    result = await runner.attempt(spec, f"http://127.0.0.1:{servers.http}/pieces")
    assert result.ok, result
    assert result.latency_s is not None and result.latency_s >= 0.2


async def test_a_location_that_cannot_be_parsed_fails_the_attempt(
    servers: Servers, runner: ProbeRunner
) -> None:
    result = await runner.attempt(_spec(), f"http://127.0.0.1:{servers.http}/bad-location")
    assert not result.ok and result.status == 302 and result.error is ErrorKind.REDIRECT_REFUSED
    assert result.detail == "redirect to an invalid address (its Location cannot be parsed)"


async def test_a_url_that_cannot_be_parsed_fails_the_attempt(runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(), "http://[oops/health")
    assert not result.ok and result.error is ErrorKind.CONNECTION
    assert result.detail == "invalid URL: it cannot be parsed"


async def test_json_nested_beyond_the_parser_fails_the_attempt(servers: Servers, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(json_exists=("a",)), f"http://127.0.0.1:{servers.http}/nested")
    assert not result.ok and result.status == 200
    assert result.failed == "body is JSON nested too deeply to read"


async def test_a_redirect_to_another_origin_is_followed_without_the_headers(
    servers: Servers, runner: ProbeRunner
) -> None:
    spec = _spec(headers=(("Authorization", SECRET),), redirect_hosts=("localhost",), json_exists=("token",))
    own = f"http://127.0.0.1:{servers.http}/echo"
    elsewhere = f"http://localhost:{servers.http}/echo"  # another host, same server
    assert (await runner.attempt(spec, own)).ok
    result = await runner.attempt(spec, f"http://127.0.0.1:{servers.http}/away?to={elsewhere}")
    assert result.ok, result
    assert servers.seen == [("/echo", SECRET), ("/echo", "")]


async def test_a_redirect_to_another_port_of_the_same_host_gets_no_headers(
    servers: Servers, runner: ProbeRunner
) -> None:
    spec = _spec(headers=(("Authorization", SECRET),), json_exists=("token",))
    result = await runner.attempt(
        spec, f"http://127.0.0.1:{servers.http}/away?to=http://127.0.0.1:{servers.other}/echo"
    )
    assert result.ok and servers.seen == [("/echo", "")]


async def test_an_https_to_http_downgrade_drops_the_headers(servers: Servers, runner: ProbeRunner) -> None:
    spec = _spec(headers=(("Authorization", SECRET),), json_equals=(("token", SECRET),))
    https_echo = f"https://127.0.0.1:{servers.https}/echo"
    assert (await runner.attempt(spec, https_echo)).ok  # its own origin: the header is sent
    result = await runner.attempt(
        spec, f"https://127.0.0.1:{servers.https}/away?to=http://127.0.0.1:{servers.http}/echo"
    )
    assert servers.seen == [("/echo", SECRET), ("/echo", "")]
    assert not result.ok and result.failed == (
        "JSON path 'token' is '', expected '***' "
        "(sent without its headers: a redirect left the probe's origin)"
    )


async def test_a_json_assertion_never_prints_a_header_secret(servers: Servers, runner: ProbeRunner) -> None:
    spec = _spec(headers=(("Authorization", SECRET),), json_equals=(("token", "something else"),))
    result = await runner.attempt(spec, f"http://127.0.0.1:{servers.http}/echo")
    assert not result.ok and servers.seen == [("/echo", SECRET)]
    assert result.failed == "JSON path 'token' is '***', expected 'something else'"
    assert "hostile-test-secret" not in repr(result)


async def test_an_answer_the_client_refuses_leaves_the_url_token_out_of_the_detail(
    servers: Servers, runner: ProbeRunner
) -> None:
    url = f"http://127.0.0.1:{servers.http}/huge-header?token=query-token-5a4b3c"
    result = await runner.attempt(_spec(), url)
    assert not result.ok and result.error is ErrorKind.CONNECTION
    assert result.detail.startswith("ClientResponseError: 400, Got more than 8190 bytes"), result.detail
    assert "query-token-5a4b3c" not in result.detail and "huge-header" not in result.detail
    assert "query-token-5a4b3c" not in result.url


async def test_every_detail_leaves_the_runner_with_its_urls_masked(
    runner: ProbeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def classify(exc: aiohttp.ClientError) -> tuple[ErrorKind, str]:
        return ErrorKind.CONNECTION, "refused at http://127.0.0.1:9/x?token=classified-token-1&a=2"

    monkeypatch.setattr(runner_module, "_classify", classify)
    result = await runner.attempt(_spec(), "http://127.0.0.1:9/x")  # port 9: nothing listens
    assert result.detail == "refused at http://127.0.0.1:9/x?token=***&a=2"

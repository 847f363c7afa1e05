"""Probe URL templates: only exact {service}/{version}/{environment} placeholders, each value
percent-encoded, so a registration's version cannot steer a probe (and its header secrets) to another
path; checked against a local server that records the path each request reached."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from monitor.models import template_problem
from monitor.probes.runner import ProbeRunner
from monitor.probes.spec import ProbeSpec, unknown_placeholders


@pytest.fixture
async def paths() -> AsyncIterator[tuple[int, list[str]]]:
    reached: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        reached.append(request.path)  # decoded once, as the application routes it
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], reached
    await runner.cleanup()


@pytest.mark.parametrize(
    ("version", "path"),
    [
        ("1.4.2", "/v/1.4.2/health"),
        ("../../admin?", "/v/../../admin?/health"),  # one segment: the server sees it whole, not a climb
        ("..", "/v/%2E%2E/health"),
        ("a/b#c", "/v/a/b#c/health"),
    ],
)
async def test_a_version_stays_one_path_segment(
    paths: tuple[int, list[str]], version: str, path: str
) -> None:
    port, reached = paths
    spec = ProbeSpec("smoke", f"http://127.0.0.1:{port}/v/{{version}}/health?env={{environment}}")
    url = spec.render("cart", version, "prod&admin=1")
    assert url.startswith(f"http://127.0.0.1:{port}/v/") and url.endswith("/health?env=prod%26admin%3D1")
    async with aiohttp.ClientSession() as session:
        result = await ProbeRunner(session).attempt(spec, url)
    assert result.ok, result
    assert reached == [path]
    assert not reached[0].startswith("/admin") and reached[0] != "/health"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://x/{version:>999999999}", "placeholder {version:>999999999} has a format spec"),
        ("http://x/{version!r}", "placeholder {version!r} has a format spec"),
        ("http://x/{version:d}", "placeholder {version:d} has a format spec"),
        ("http://x/{version[0]}", "placeholder {version[0]} has a format spec"),
        ("http://x/{team}", "unknown placeholder {team}"),
        ("http://x/{}", "unknown placeholder {}"),
        ("http://x/{version", "a lone '{'"),
        ("http://x/}", "a lone '}'"),
    ],
)
def test_a_template_beyond_the_three_placeholders_is_refused_and_never_rendered(
    url: str, problem: str
) -> None:
    found = template_problem(url)
    assert found is not None and found[0].startswith(problem)
    with pytest.raises(ValueError, match="probe smoke: url: "):
        ProbeSpec("smoke", url).render("cart", "v1", "prod")


def test_format_specs_are_unknown_placeholders_as_written() -> None:
    assert unknown_placeholders("http://x/{version:>9}/{service}/{version!r}") == ["version!r", "version:>9"]
    assert unknown_placeholders("http://x/{") == []  # never raises; template_problem names it


def test_a_valid_template_renders_literal_braces_and_every_value() -> None:
    spec = ProbeSpec("smoke", "https://{service}.{environment}.example/{{raw}}/{version}")
    assert spec.render("cart", "1.2", "staging") == "https://cart.staging.example/{raw}/1.2"
    assert template_problem(spec.url) is None

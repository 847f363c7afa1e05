"""``monitor gate --probe/--preview``: what the registration body carries, and the flags it refuses.

The daemon here is a small recording HTTP server (the API's registration side is tested with the
API): it keeps the body POSTed and answers a final verdict at once.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.cli import build_parser
from monitor.commands.gate import _gate, run_gate
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL


@pytest.fixture
async def daemon() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    async def register(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({"id": "d-1"}, status=201)

    async def verdict(request: web.Request) -> web.Response:
        return web.json_response(
            {"verdict": "fail", "score": 100, "summary": "fail: probe_health", "checks": []}
        )

    app = web.Application()
    app.router.add_post("/api/v1/deployments", register)
    app.router.add_get("/api/v1/deployments/{id}/verdict", verdict)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), bodies
    await server.close()


def _args(url: str, *extra: str) -> argparse.Namespace:
    fixed = [
        "gate", "--url", url, "--service", "checkout", "--environment", "production",
        "--version", "v2", "--baseline-version", "v1", "--timeout", "30s",
    ]  # fmt: skip
    return build_parser().parse_args([*fixed, *extra])


async def test_probes_and_preview_go_into_the_registration(
    daemon: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, bodies = daemon
    args = _args(
        url, "--strategy", "bluegreen", "--preview", "https://checkout-green.preview.example.com",
        "--probe", "health", "--probe", "https://checkout-green.preview.example.com/healthz?v={version}",
        "--probe", "login", "--probe", "http://127.0.0.1:8080/ready",
    )  # fmt: skip
    assert await _gate(args) == EXIT_FAIL
    (body,) = bodies
    assert body["strategy"] == "bluegreen"
    assert body["preview_url"] == "https://checkout-green.preview.example.com"
    assert body["probes"] == [
        "health",
        {"name": "smoke-1", "url": "https://checkout-green.preview.example.com/healthz?v={version}"},
        "login",
        {"name": "smoke-2", "url": "http://127.0.0.1:8080/ready"},
    ]
    assert "verdict: FAIL" in capsys.readouterr().out


async def test_without_probe_flags_the_body_leaves_them_to_the_daemon(
    daemon: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = daemon
    assert await _gate(_args(url)) == EXIT_FAIL
    assert "probes" not in bodies[0] and "preview_url" not in bodies[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--preview", "https://green.example.com"),
            "--preview is the green side of a blue/green deployment; add --strategy bluegreen (not canary)",
        ),
        (
            ("--strategy", "bluegreen", "--preview", "green.example.com"),
            "--preview green.example.com: use an http:// or https:// URL with a host",
        ),
        (
            ("--probe", "https://{service}.example.com/healthz"),
            "--probe https://{service}.example.com/healthz: the URL's host is templated; write the host "
            "itself, or configure the probe with its hosts: in --config",
        ),
        (
            ("--probe", "https://a.example.com/{build}"),
            "unknown placeholder {build}; use {service}, {version} or {environment}",
        ),
        (("--probe", "all"), "--probe all: leave --probe out and the daemon runs every configured probe"),
    ],
)
def test_a_wrong_probe_or_preview_is_refused_before_registering(
    extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the discard port: a refusal must come before any request.
    assert run_gate(_args("http://127.0.0.1:9", *extra)) == EXIT_ERROR
    assert message in capsys.readouterr().err

"""The OpenAPI document matches the routes, and schemathesis finds no server error against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from monitor.api.app import create_app
from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port, wait_for_http

pytestmark = pytest.mark.prometheus

TOKEN = "t0" * 16
SPEC = json.loads(resources.files("monitor.api").joinpath("openapi.json").read_text())


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(None, None, None)  # type: ignore[arg-type]  # routes only, nothing is served
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for path, item in SPEC["paths"].items() for method in item}
    assert routes == documented


@pytest.fixture(scope="module")
def daemon_url(prometheus: SimulatedPrometheus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("openapi")
    (workdir / "token").write_text(TOKEN)
    config = workdir / "monitor.yaml"
    config.write_text(f"tokens:\n  - {{name: fuzz, scopes: [admin], token_file: {workdir / 'token'}}}\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", prometheus.url, "--database", f"sqlite:///{Path(workdir) / 'monitor.db'}",
         "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    assert wait_for_http(f"{url}/healthz"), "monitor serve did not come up"
    yield url
    process.terminate()
    process.wait(timeout=30)


def _send(request: dict[str, Any]) -> int:
    """Send one generated request (schemathesis' transport keywords) with the standard library."""
    url = request["url"]
    if request.get("params"):
        url += "?" + urllib.parse.urlencode(request["params"], doseq=True)
    headers = dict(request.get("headers") or {})
    data = request.get("data")
    if "json" in request:
        data = json.dumps(request["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(data, str):
        data = data.encode()
    sent = urllib.request.Request(url, data=data, headers=headers, method=request["method"])
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_no_request_makes_a_server_error(daemon_url: str) -> None:
    """Every documented operation, with bodies and parameters schemathesis generates from the
    document, against a real daemon: no answer may be a 5xx. (Requests go out through the
    standard library: schemathesis' own ``requests`` transport clashes with urllib3-future,
    which another dependency installs in place of urllib3.)"""
    with urllib.request.urlopen(f"{daemon_url}/api/v1/openapi.json", timeout=5) as response:
        assert json.loads(response.read()) == SPEC  # the daemon serves this very document
    api = schemathesis.openapi.from_dict(SPEC)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == sum(len(item) for item in SPEC["paths"].values())
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            status = _send(case.as_transport_kwargs(base_url=daemon_url, headers=auth))
            assert status < 500, case.as_curl_command(headers=auth)

        no_server_error()

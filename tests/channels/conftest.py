"""Receivers of pages: a real Alertmanager (Debian package) and a PagerDuty Events v2 fake.

No PagerDuty server can run here: :class:`PagerDutyFake` follows the Events API v2 contract of
``docs/integrations.md`` (202 with the dedup key, 400 for an invalid event, scripted 429).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.simulate.prometheus import free_port, wait_for_http

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like an integration key


@dataclass
class Alertmanager:
    """A running Alertmanager and a reader of its v2 API."""

    url: str

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Unresolved alerts whose labels match ``labels`` (GET /api/v2/alerts?filter=...)."""
        query = "&".join(f"filter={urllib.request.quote(f'{k}={json.dumps(v)}')}" for k, v in labels.items())
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=10) as response:
            found: list[dict[str, Any]] = json.loads(response.read())
            return found


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    """A real ``prometheus-alertmanager`` on a free loopback port, clustering off."""
    executable = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if executable is None:
        pytest.fail("prometheus-alertmanager is not installed: run make setup (it installs the package)")
    workdir = tmp_path_factory.mktemp("alertmanager")
    config = workdir / "alertmanager.yml"
    config.write_text("route:\n  receiver: default\nreceivers:\n  - name: default\n")
    port = free_port()
    log = (workdir / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [executable, f"--config.file={config}", f"--storage.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{url}/-/ready", timeout_s=30):
            pytest.fail(f"Alertmanager did not become ready; see {Path(log.name)}")
        yield Alertmanager(url)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@dataclass
class PagerDutyFake:
    """Events API v2 (``POST /v2/enqueue``) as documented; keeps what it accepted."""

    statuses: list[int] = field(default_factory=list)  # scripted answers before the normal ones
    events: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def enqueue(self, request: web.Request) -> web.Response:
        if self.statuses:
            status = self.statuses.pop(0)
            return web.json_response({"status": "throttle" if status == 429 else "error"}, status=status)
        try:
            event = await request.json()
        except ValueError:
            return _invalid("body is not JSON")
        problems = _validate(event)
        if problems:
            return _invalid(*problems)
        self.events.append(event)
        key = event.get("dedup_key") or f"generated-{len(self.events)}"
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )


def _invalid(*errors: str) -> web.Response:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}
    return web.json_response(body, status=400)


def _validate(event: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) != 32:
        problems.append("'routing_key' is invalid")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append("'event_action' is invalid")
    if len(str(event.get("dedup_key", ""))) > 255:
        problems.append("'dedup_key' is too long")
    if action != "trigger" and not event.get("dedup_key"):
        problems.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload") or {}
        for key in ("summary", "source", "severity"):
            if not payload.get(key):
                problems.append(f"'payload.{key}' is missing")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append("'payload.severity' is invalid")
        if len(str(payload.get("summary", ""))) > 1024:
            problems.append("'payload.summary' is too long")
    return problems


@pytest.fixture
def routing_key() -> str:
    """A PagerDuty integration key of the documented shape."""
    return ROUTING_KEY


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyFake]:
    """A PagerDuty Events v2 fake on a free loopback port."""
    fake = PagerDutyFake()
    app = web.Application()
    app.router.add_post("/v2/enqueue", fake.enqueue)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{port}/v2/enqueue"
    yield fake
    await runner.cleanup()

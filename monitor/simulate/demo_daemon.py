"""The daemon half of ``make demo``: serve, gate, and a signed webhook for a bad deploy.

A local webhook receiver (this process) stands where a chat room or a rollback job would be;
``monitor serve`` runs on SQLite with an API token and that webhook; ``monitor gate`` registers
the bad ``payments`` canary (deployed twenty minutes earlier, so the daemon catches up at once),
waits and exits 1; the receiver then gets the final verdict, signed, and verifies it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from monitor.simulate.demo_steps import (
    gate_argv,
    python_argv,
    run_shown,
    serve_argv,
    shown,
    write_daemon_config,
)
from monitor.simulate.prometheus import free_port, wait_for_http
from monitor.simulate.scenario import SimulatedRun


class WebhookReceiver:
    """A webhook endpoint in a background thread that verifies what it receives."""

    def __init__(self, secret: str) -> None:
        self.secret, self.port = secret, free_port()
        self.received: list[tuple[dict[str, Any], bool]] = []
        self._ready, self._loop = threading.Event(), asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify(
            self.secret,
            request.headers[TIMESTAMP_HEADER],
            body,
            request.headers[SIGNATURE_HEADER],
            time.time(),
        )
        self.received.append((json.loads(body), ok))
        return web.Response(status=200 if ok else 401)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/rollback", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> str:
        """Start serving; return the webhook URL."""
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}/rollback"


def run_daemon_demo(prometheus_url: str, run: SimulatedRun, workdir: Path) -> bool:
    """Run the daemon story for ``run`` (a failing canary); True when it went as designed."""
    token, secret = secrets.token_hex(16), secrets.token_hex(16)
    (workdir / "hook.secret").write_text(secret)
    receiver = WebhookReceiver(secret)
    hook_url = receiver.start()
    webhooks = (
        f"webhooks:\n  - {{name: rollback, url: '{hook_url}', secret_file: {workdir / 'hook.secret'}, "
        "verdicts: [fail]}\n"
    )
    config = write_daemon_config(workdir, token, webhooks)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = serve_argv(port, prometheus_url, workdir / "monitor.db", config)
    print(shown(serve, background=True), flush=True)
    daemon = subprocess.Popen(python_argv(serve), stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"{url}/healthz")
        code = run_shown(gate_argv(url, workdir / "ci.token", run))
        print(
            f"exit code {code}: {'as designed' if code == 1 else 'NOT as designed (wanted 1)'}\n", flush=True
        )
        for _ in range(100):
            if receiver.received:
                break
            time.sleep(0.1)
    finally:
        daemon.terminate()
        daemon.wait(30)
    if not receiver.received:
        print("the webhook received nothing: NOT as designed")
        return False
    document, signed = receiver.received[0]
    print(
        f"webhook {hook_url} received: verdict {document['verdict']} for {document['service']} "
        f"{document['canary']['version']} ({'signature verified' if signed else 'BAD SIGNATURE'})"
    )
    return code == 1 and signed and document["verdict"] == "fail"

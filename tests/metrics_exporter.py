"""A scrape target for tests against a real Prometheus, the config that scrapes it, and an instant query.

The target serves, in the Prometheus text format, whatever lines a test computes from the time
elapsed since it "started": an hour before it was created, so that no rate window sees a counter
start. Prometheus scrapes it and evaluates the rules every second.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STARTED_AGO_S = 3600.0

Exposition = Callable[[float], Iterable[str]]


@contextmanager
def serve_metrics(exposition: Exposition) -> Iterator[str]:
    """Serve ``exposition(elapsed_s)`` at ``/metrics`` (any path) on a free local port; yields the
    ``host:port`` to scrape, and stops the server when done."""
    started = time.time() - STARTED_AGO_S

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ("\n".join(exposition(time.time() - started)) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def scraping_config(target: str, rule_files: list[str]) -> str:
    """A Prometheus config (JSON is YAML) scraping ``target`` and evaluating ``rule_files``, both
    every second."""
    return json.dumps(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rule_files,
            "scrape_configs": [{"job_name": "app", "static_configs": [{"targets": [target]}]}],
        }
    )


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The result of an instant query of ``expr`` at the Prometheus at ``url``, now."""
    with urllib.request.urlopen(
        f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=10
    ) as r:
        answer: dict[str, Any] = json.loads(r.read())
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result

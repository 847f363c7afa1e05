"""Mistakes caught before any work, by the CLI run as a real process (``python -m monitor``).

A URL without a scheme and a port already in use are each exit 3 and one line on stderr naming the
flag (or environment variable) and the fix: nothing is queried, retried, created or migrated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

ANALYZE = (
    "analyze", "--service", "s", "--canary-version", "v2", "--baseline-version", "v1",
    "--start", "1700000000", "--end", "1700000600",
)  # fmt: skip
GATE = ("gate", "--service", "s", "--environment", "testing", "--version", "v2", "--baseline-version", "v1")
SERVE = ("serve", "--insecure-no-auth", "--database", "sqlite:///monitor.db")
PROM = "prometheus:9090"
WORKING = "http://127.0.0.1:9"  # a valid URL; nothing listens there, and nothing may be asked


def _monitor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI without the monitor's variables of the calling shell, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
        env={**clean, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "named", "value"),
    [
        ((*ANALYZE, "--prometheus-url", PROM), {}, "argument --prometheus-url", PROM),
        (ANALYZE, {"MONITOR_PROMETHEUS_URL": PROM}, "MONITOR_PROMETHEUS_URL", PROM),
        ((*ANALYZE, "--prometheus-url", WORKING, "--loki-url", "loki:3100"), {}, "--loki-url", "loki:3100"),
        ((*ANALYZE, "--prometheus-url", WORKING), {"MONITOR_TEMPO_URL": "tempo:3200"}, "MONITOR_TEMPO_URL",
         "tempo:3200"),
        ((*ANALYZE, "--prometheus-url", WORKING, "--jaeger-url", "jaeger:16686"), {}, "argument --jaeger-url",
         "jaeger:16686"),
        ((*SERVE, "--prometheus-url", PROM), {}, "argument --prometheus-url", PROM),
        (SERVE, {"MONITOR_PROMETHEUS_URL": PROM}, "MONITOR_PROMETHEUS_URL", PROM),
        ((*SERVE, "--prometheus-url", WORKING), {"MONITOR_PUBLIC_URL": "monitor.example.com"},
         "MONITOR_PUBLIC_URL", "monitor.example.com"),
        ((*GATE, "--url", "monitor:8080"), {}, "argument --url", "monitor:8080"),
        (GATE, {"MONITOR_URL": "monitor:8080"}, "MONITOR_URL", "monitor:8080"),
        (("provision",), {"MONITOR_GRAFANA_URL": "grafana:3000", "MONITOR_GRAFANA_TOKEN": "t" * 20},
         "MONITOR_GRAFANA_URL", "grafana:3000"),
    ],
    ids=["analyze-flag", "analyze-env", "loki", "tempo-env", "jaeger", "serve-flag", "serve-env",
         "serve-public-url", "gate-flag", "gate-env", "provision-env"],
)  # fmt: skip
def test_a_url_without_a_scheme_is_one_line_and_exit_3(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], named: str, value: str
) -> None:
    """Before, these retried (analyze three times per query, gate until its 2 h timeout) and
    reported the HTTP client's ``NonHttpUrlClientError``."""
    done = _monitor(*args, cwd=tmp_path, env=env)
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("monitor")
    assert named in line and f"{value!r} has no scheme; use http://{value}" in line
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # serve created no database


def test_an_empty_url_variable_counts_as_unset(tmp_path: Path) -> None:
    """``MONITOR_LOKI_URL=`` (set but empty, as templates often leave it) is no Loki, not a bad URL."""
    done = _monitor(*ANALYZE, "--prometheus-url", WORKING, "--interval", "1s", cwd=tmp_path,
                    env={"MONITOR_LOKI_URL": "", "MONITOR_TEMPO_URL": ""})  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.splitlines() == ["monitor: error: --interval 1s is shorter than 10s; use e.g. 60s"]


@pytest.mark.parametrize(("host", "engine"), [("127.0.0.1", "process"), ("0.0.0.0", "inline")])
def test_serve_on_a_busy_port_exits_3_before_creating_the_database(
    tmp_path: Path, host: str, engine: str
) -> None:
    with socket.socket() as busy:
        busy.bind((host, 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _monitor(
            "serve", "--listen", f"{host}:{port}", "--prometheus-url", WORKING, "--insecure-no-auth",
            "--database", f"sqlite:///{tmp_path / 'monitor.db'}", "--engine", engine, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"monitor: error: port {port} on {host} is in use; choose another with --listen {host}:PORT"
    ]
    assert list(tmp_path.iterdir()) == []


async def test_a_replica_on_a_busy_port_leaves_postgresql_unmigrated(
    tmp_path: Path, postgres_database: str
) -> None:
    """Several replicas share one PostgreSQL: one that cannot listen must not migrate it either."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _monitor(
            "serve", "--listen", f"127.0.0.1:{port}", "--prometheus-url", WORKING, "--insecure-no-auth",
            "--database", postgres_database, "--lease", "4s", cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 3
    assert len(done.stderr.splitlines()) == 1 and f"port {port} on 127.0.0.1 is in use" in done.stderr
    db = await asyncpg.connect(postgres_database)
    try:
        tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await db.close()
    assert tables == []

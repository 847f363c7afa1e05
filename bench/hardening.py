"""The hardening campaign: hostile input and bad days replayed against a running daemon.

Run: ``.venv/bin/python -m bench.hardening`` (``make probe``). It starts ``monitor serve`` on a
SQLite file with API tokens and a Prometheus URL that carries a password (nothing listens there:
the point is that the password is never shown), then runs every probe and prints a table: what
was sent, what a hardened daemon must answer, what it answered. Exit status 1 when any probe
fails. The regression tests (``tests/api/test_hostile_input.py``, ``tests/faults/``,
``tests/fuzz/``) pin each finding; this campaign replays them end to end against the real
process, as an attacker would, including the costs the tests cannot see (event-loop stalls,
resident memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.results import RESULTS_DIR, write_results
from monitor.simulate.prometheus import free_port, wait_for_http

PASSWORD = "hunter2-never-shown"
DEPLOY, INGEST, READ = "d" * 32, "i" * 32, "r" * 32
BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}
MAX_STALL_S = 1.0  # a request to /healthz waiting longer than this while an attack runs is a stall
MAX_RSS_MB = 300.0


@dataclass(frozen=True)
class Outcome:
    """One probe's result."""

    probe: str
    expected: str
    observed: str
    ok: bool


@dataclass
class Daemon:
    """A ``monitor serve`` process and how to reach it."""

    url: str
    process: subprocess.Popen[bytes]
    database: Path
    port: int

    def rss_mb(self) -> tuple[float, float]:
        """Resident memory of the API process (which receives OTLP), and of its engine process."""
        return _rss_mb(self.process.pid), sum(_rss_mb(child) for child in _children(self.process.pid))


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _monitor(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", *args]


def start_daemon(workdir: Path) -> Daemon:
    """``monitor serve`` with tokens for each scope, on a fresh SQLite file."""
    config = workdir / "monitor.yaml"
    tokens = {
        "pipeline": ("[read, deploy]", DEPLOY),
        "collector": ("[ingest]", INGEST),
        "flagger": ("[read]", READ),
    }
    lines = ["tokens:"]
    for name, (scopes, secret) in tokens.items():
        (workdir / name).write_text(secret)
        lines.append(f"  - {{name: {name}, scopes: {scopes}, token_file: {name}}}")
    config.write_text("\n".join(lines) + "\n")
    port = free_port()
    database = workdir / "monitor.db"
    process = subprocess.Popen(
        _monitor("serve", "--listen", f"127.0.0.1:{port}", "--database", f"sqlite:///{database}",
                 "--config", str(config), "--prometheus-url", f"http://monitor:{PASSWORD}@127.0.0.1:9"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/healthz"):
        process.kill()
        raise SystemExit("monitor serve did not come up")
    return Daemon(url, process, database, port)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gzip_bomb(inflated_mib: int = 1024) -> bytes:
    """``inflated_mib`` MiB of zeros, gzip-compressed (about a thousandth of that), built in steps."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(deflate.compress(zeros) for _ in range(inflated_mib)) + deflate.flush()


async def _while_probing(
    session: aiohttp.ClientSession, url: str, attack: Awaitable[int]
) -> tuple[int, float]:
    """Run ``attack`` while GETting /healthz every 20 ms; its status and the slowest /healthz (s)."""
    done = asyncio.Event()
    slowest = 0.0

    async def tick() -> None:
        nonlocal slowest
        while not done.is_set():
            started = time.perf_counter()
            async with session.get(f"{url}/healthz") as answer:
                await answer.read()
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.02)

    ticker = asyncio.create_task(tick())
    try:
        status = await attack
        await asyncio.sleep(0.5)  # a stall that follows the answer (inflating a discarded body) counts
    finally:
        done.set()
        await ticker
    return status, slowest


async def _post(session: aiohttp.ClientSession, url: str, data: bytes | str, headers: dict[str, str]) -> int:
    try:
        async with session.post(url, data=data, headers=headers) as answer:
            await answer.read()
            return answer.status
    except aiohttp.ClientError:
        return 0  # the server closed the connection before answering


async def probe_compressed_bodies(session: aiohttp.ClientSession, daemon: Daemon) -> list[Outcome]:
    bomb = gzip_bomb()
    gzip = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    outcomes = []
    for path, headers in (
        ("/healthz", gzip),
        ("/no/such/route", gzip),
        ("/v1/logs", gzip),  # no token
        ("/api/v1/deployments", {**gzip, **_auth(DEPLOY)}),
        ("/v1/logs", {**gzip, **_auth(INGEST)}),  # accepted route: inflated up to its cap only
    ):
        async with aiohttp.ClientSession() as own:  # the bomb's connection may be closed on it
            status, slowest = await _while_probing(
                session, daemon.url, _post(own, daemon.url + path, bomb, headers)
            )
        ok = status in (0, 401, 404, 405, 413, 415) and slowest < MAX_STALL_S
        outcomes.append(Outcome(
            f"1 GiB gzip bomb ({len(bomb) // 1024} KiB) POST {path}"
            + (" with token" if "Authorization" in headers else ""),
            f"refused (401/404/405/413/415); /healthz never waits {MAX_STALL_S:g} s",
            f"HTTP {status or 'closed'}; slowest /healthz {slowest * 1000:.0f} ms", ok,
        ))  # fmt: skip
    return outcomes


async def _status(
    session: aiohttp.ClientSession, method: str, url: str, *, data: Any = None, headers: dict[str, str]
) -> tuple[int, str]:
    async with session.request(method, url, data=data, headers=headers) as answer:
        return answer.status, await answer.text()


async def probe_bad_input(session: aiohttp.ClientSession, daemon: Daemon) -> list[Outcome]:
    api = f"{daemon.url}/api/v1/deployments"
    deploy = {**_auth(DEPLOY), "Content-Type": "application/json"}
    status, text = await _status(session, "POST", api, data=json.dumps(BODY), headers=deploy)
    created = json.loads(text)["id"] if status == 201 else "none"
    deep = "[" * 1000 + "]" * 1000
    flagger = f"{daemon.url}/api/v1/integrations/flagger/rollout"
    plain = {"Content-Type": "application/json"}
    ingest = {**_auth(INGEST), **plain}

    def body(**changes: Any) -> str:
        return json.dumps({**BODY, **changes})

    version_list = {"name": "c", "metadata": {"service": "checkout", "version": ["a"], "token": READ}}
    many = {f"l{i}": "x" for i in range(5000)}
    cases: list[tuple[str, str, str, dict[str, str], set[int]]] = [
        ("started_at 0001-01-01", api, body(started_at="0001-01-01T00:00:00Z"), deploy, {400}),
        ("started_at 9999-12-31", api, body(started_at="9999-12-31T23:59:59Z"), deploy, {400}),
        ("JSON nested 1,000 deep: deployments", api, deep, deploy, {400}),
        ("JSON nested 1,000 deep: cancel", f"{api}/{created}/cancel", deep, deploy, {400}),
        ("JSON nested 1,000 deep: Flagger hook, no token", flagger, deep, plain, {400, 401}),
        ("JSON nested 1,000 deep: OTLP /v1/traces", f"{daemon.url}/v1/traces",
         '{"resourceSpans": ' + deep + "}", ingest, {400}),
        ("lone surrogate in service", api, body().replace("checkout", "check\\ud800out"), deploy, {400}),
        ("NUL in version", api, body().replace('"v2"', '"v\\u00002"'), deploy, {400}),
        ('Flagger metadata.version ["a"]', flagger, json.dumps(version_list), plain, {400}),
        ("5,000 labels", api, body(service="many", labels=many), deploy, {400}),
        ("label key with a trailing newline", api, body(service="nl", labels={"region\n": "e"}),
         deploy, {400}),
        ("Idempotency-Key of 5,000 characters", api, body(service="idem"),
         {**deploy, "Idempotency-Key": "k" * 5000}, {400}),
    ]  # fmt: skip
    outcomes = []
    for name, url, data, headers, wanted in cases:
        status, text = await _status(session, "POST", url, data=data, headers=headers)
        try:
            field = json.loads(text).get("field") or json.loads(text).get("message", "")
        except (ValueError, AttributeError):
            field = text[:60]
        expected = " or ".join(str(w) for w in sorted(wanted)) + " naming the field"
        outcomes.append(Outcome(name, expected, f"HTTP {status} {field!r}"[:70], status in wanted))
    status, _ = await _status(session, "GET", f"{daemon.url}/readyz", headers={})
    alive = daemon.process.poll() is None and status in (200, 503)
    outcomes.append(
        Outcome("the daemon after all of that", "running, /readyz answers", f"/readyz {status}", alive)
    )
    return outcomes


async def probe_secrets(session: aiohttp.ClientSession, daemon: Daemon) -> list[Outcome]:
    outcomes = []
    for path in ("/readyz", "/api/v1/deployments", "/metrics"):
        headers = {} if path == "/readyz" else _auth(DEPLOY)
        status, text = await _status(session, "GET", daemon.url + path, headers=headers)
        outcomes.append(Outcome(
            f"Prometheus password in GET {path}", "never shown", f"HTTP {status}, "
            + ("password shown" if PASSWORD in text else "not shown"), PASSWORD not in text,
        ))  # fmt: skip
    return outcomes


async def probe_otlp_amplification(session: aiohttp.ClientSession, daemon: Daemon) -> list[Outcome]:
    empty_resources = b"\x0a\x00" * 7_000_000  # 14 MB: seven million empty ResourceSpans
    headers = {**_auth(INGEST), "Content-Type": "application/x-protobuf"}
    started = time.perf_counter()
    status, _ = await _status(
        session, "POST", f"{daemon.url}/v1/traces", data=empty_resources, headers=headers
    )
    took_s = time.perf_counter() - started
    outcomes = [Outcome(
        "14 MB of 7 M empty ResourceSpans", "refused or capped within 2 s",
        f"HTTP {status} in {took_s:.2f} s", status in (200, 400, 413, 429) and took_s < 2.0,
    )]  # fmt: skip
    before, engine = daemon.rss_mb()
    peak = before
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, daemon.rss_mb()[0])
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    async with aiohttp.ClientSession() as burst:
        statuses = await asyncio.gather(*(
            _status(burst, "POST", f"{daemon.url}/v1/traces", data=empty_resources, headers=headers)
            for _ in range(40)
        ))  # fmt: skip
    sampling = False
    await sampler
    counts: dict[int, int] = {}
    for s, _ in statuses:
        counts[s] = counts.get(s, 0) + 1
    outcomes.append(Outcome(
        "a burst of 40 such requests", f"the receiving process's RSS under {MAX_RSS_MB:g} MB",
        f"{before:.0f} MB before, peak {peak:.0f} MB (engine process {engine:.0f} MB); answers {counts}",
        peak < MAX_RSS_MB,
    ))  # fmt: skip
    return outcomes


async def probe_deleted_database(session: aiohttp.ClientSession, daemon: Daemon) -> list[Outcome]:
    daemon.database.unlink()
    deploy = {**_auth(DEPLOY), "Content-Type": "application/json"}
    status, _ = await _status(
        session, "POST", f"{daemon.url}/api/v1/deployments", data=json.dumps({**BODY, "service": "late"}),
        headers=deploy,
    )  # fmt: skip
    ready, text = await _status(session, "GET", f"{daemon.url}/readyz", headers={})
    return [
        Outcome("register after the SQLite file was deleted", "503, nothing acknowledged",
                f"HTTP {status}", status == 503),
        Outcome("/readyz after the SQLite file was deleted", "503 naming the file", f"HTTP {ready}",
                ready == 503 and "deleted" in text),
    ]  # fmt: skip


def probe_cli(daemon: Daemon, workdir: Path) -> list[Outcome]:
    outcomes = []
    runs = [
        ("analyze --prometheus-url prometheus:9090 (no scheme)",
         _monitor("analyze", "--prometheus-url", "prometheus:9090", "--service", "s",
                  "--canary-version", "v2", "--baseline-version", "v1", "--start", "2026-01-01T00:00:00Z",
                  "--end", "2026-01-01T00:10:00Z"), None),
        (f"serve on the busy port {daemon.port}",
         _monitor("serve", "--listen", f"127.0.0.1:{daemon.port}", "--database",
                  f"sqlite:///{workdir / 'second.db'}", "--insecure-no-auth"), workdir / "second.db"),
    ]  # fmt: skip
    for name, argv, must_not_exist in runs:
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        took_s = time.perf_counter() - started
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        untouched = must_not_exist is None or not must_not_exist.exists()
        ok = done.returncode == 3 and len(lines) == 1 and "Traceback" not in done.stderr and untouched
        observed = f"exit {done.returncode}, {len(lines)} line(s) in {took_s:.1f} s"
        observed += "" if untouched else ", database created"
        outcomes.append(Outcome(name, "exit 3, one line, no work done", observed, ok))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The campaign's markdown table."""
    rows = ["| probe | a hardened daemon | observed | ok |", "|---|---|---|---|"]
    rows += [f"| {o.probe} | {o.expected} | {o.observed} | {'yes' if o.ok else '**NO**'} |" for o in outcomes]
    return "\n".join(rows) + "\n"


async def campaign(daemon: Daemon, workdir: Path) -> list[Outcome]:
    """Every probe, the destructive one last."""
    outcomes: list[Outcome] = []
    steps: list[Callable[[aiohttp.ClientSession, Daemon], Awaitable[list[Outcome]]]] = [
        probe_compressed_bodies,
        probe_bad_input,
        probe_secrets,
        probe_otlp_amplification,
    ]
    async with aiohttp.ClientSession() as session:
        for step in steps:
            print(
                f"... {step.__name__.removeprefix('probe_').replace('_', ' ')}", file=sys.stderr, flush=True
            )
            outcomes += await step(session, daemon)
        outcomes += await asyncio.to_thread(probe_cli, daemon, workdir)
        outcomes += await probe_deleted_database(session, daemon)
    return outcomes


def main() -> int:
    """Start a daemon, run the campaign, print and save the table; 1 when a probe failed."""
    parser = argparse.ArgumentParser(prog="python -m bench.hardening", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where to write hardening.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-hardening-") as tmp:
        workdir = Path(tmp)
        daemon = start_daemon(workdir)
        try:
            outcomes = asyncio.run(campaign(daemon, workdir))
        finally:
            daemon.process.terminate()
            daemon.process.wait(timeout=30)
    report = table(outcomes)
    print(report)
    rows = [o.__dict__ for o in outcomes]
    write_results(args.results, "hardening", report, rows)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} probes as a hardened daemon answers")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""``monitor gate``: register a deployment (or attach to one), wait for its verdict, exit by it.

It prints a progress line per look, then the summary and the checks, and last the report's
address (a signed, expiring link a browser opens, when the daemon has a report-link key), and
exits 0/1/2/3 as ``monitor analyze`` does. Connection failures and 5xx answers are retried with backoff until
``--timeout``, so the gate rides out a daemon restart.

``--probe`` names the deployment's smoke probes (configured names, or URLs sent as inline probes;
without it the daemon runs the configured probes that apply), and ``--preview`` the address where
the green side of a blue/green deployment answers before the switch: its verdict then judges the
green side by its probes, so a pipeline switches traffic only when the gate exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from monitor.envvars import env
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED
from monitor.judges.format import fmt_duration
from monitor.probes.hosts import INLINE_PREFIX, inline_problem
from monitor.probes.spec import PARSE_FIX, url_origin
from monitor.redact import redact_url
from monitor.reportlinks import report_path
from monitor.retry import Retry, RetryPolicy, retry_after_s, retry_async, retryable_status
from monitor.timeparse import format_time, parse_duration_s, parse_time

_EXIT = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "marginal": EXIT_UNDECIDED, "inconclusive": EXIT_UNDECIDED}
LONG_POLL_S = 30.0


def _say(line: str) -> None:
    print(line, flush=True)


async def _call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with session.request(method, url, **kwargs) as response:
            if retryable_status(response.status):  # down, restarting, overloaded: try again
                after_s = retry_after_s(response.headers.get("Retry-After"))
                raise Retry(f"HTTP {response.status}", status=response.status, retry_after_s=after_s)
            body: Any = await response.json(content_type=None)
            if response.status >= 400:
                detail = body.get("detail") if isinstance(body, dict) else body
                raise InputError(f"{method} {url}: HTTP {response.status}: {detail}")
            if not isinstance(body, dict):
                raise Retry(f"unexpected answer {body!r}")
            return body
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Retry(f"{type(exc).__name__}: {exc}") from exc


async def _retrying(deadline: float, call: Any) -> dict[str, Any]:
    """``await call()``, retried by the shared policy until it answers or ``deadline`` comes."""

    def announce(failure: Retry, wait_s: float) -> None:
        _say(f"monitor unreachable ({failure.problem}); retrying in {wait_s:.0f}s")

    policy = RetryPolicy(
        attempts=None, backoff_s=1.0, max_backoff_s=15.0, budget_s=deadline - time.monotonic()
    )
    try:
        result: dict[str, Any] = await retry_async(policy, call, on_retry=announce)
    except Retry as last:
        raise MonitorError(f"the monitor did not answer before --timeout ({last.problem})") from None
    return result


def _probes(given: list[str]) -> list[str | dict[str, str]]:
    """``--probe`` as the body's ``probes``: configured names as they are, a URL as an inline probe
    (``{"name": "smoke-1", "url": URL}``, the daemon's defaults for the rest)."""
    probes: list[str | dict[str, str]] = []
    inline = 0
    for item in given:
        if "://" not in item:
            if item == "all":
                raise InputError(
                    "--probe all: leave --probe out and the daemon runs every configured probe that "
                    "applies; or name them"
                )
            probes.append(item)
            continue
        if (problem := inline_problem(item)) is not None:
            raise InputError(f"--probe {redact_url(item)}: {problem}")
        inline += 1
        probes.append({"name": f"{INLINE_PREFIX}{inline}", "url": item})
    return probes


def _preview(url: str, strategy: str) -> str:
    if strategy != "bluegreen":
        raise InputError(
            f"--preview is the green side of a blue/green deployment; add --strategy bluegreen "
            f"(not {strategy})"
        )
    if not url.lower().startswith(("http://", "https://")):
        raise InputError(f"--preview {redact_url(url)}: use an http:// or https:// URL with a host")
    try:  # "http://[oops/": a typo to fix, not a traceback
        host = url_origin(url)[1]
    except ValueError:
        raise InputError(f"--preview {redact_url(url)}: it cannot be parsed as a URL; {PARSE_FIX}") from None
    if not host:
        raise InputError(f"--preview {redact_url(url)}: use an http:// or https:// URL with a host")
    return url


def _registration(args: argparse.Namespace) -> dict[str, Any]:
    missing = [f for f in ("service", "environment", "version", "baseline_version") if not getattr(args, f)]
    if missing:
        flags = ", ".join("--" + f.replace("_", "-") for f in missing)
        raise InputError(f"missing {flags} (or pass --deployment-id to attach to a registered deployment)")
    body: dict[str, Any] = {
        "service": args.service,
        "environment": args.environment,
        "version": args.version,
        "baseline_version": args.baseline_version,
        "strategy": args.strategy,
    }
    if getattr(args, "baseline", None):  # else the environment's default
        body["baseline"] = args.baseline
    if args.started_at:  # now-5m is resolved here; the daemon takes an absolute time
        body["started_at"] = format_time(parse_time(args.started_at, "--started-at", datetime.now(UTC)))
    if args.max_duration:
        body["max_duration_s"] = parse_duration_s(args.max_duration, "--max-duration")
    labels: dict[str, str] = {}
    for item in args.label or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(
                f"--label {item!r}: write KEY=VALUE, e.g. --label rollback/feature-flag=new-checkout"
            )
        labels[key] = value
    if labels:
        body["labels"] = labels
    if getattr(args, "probe", None):  # else the configured probes that apply
        body["probes"] = _probes(args.probe)
    if getattr(args, "preview", None):
        body["preview_url"] = _preview(args.preview, args.strategy)
    return body


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            return Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"--token-file {args.token_file}: {exc.strerror}") from None
    return (env("MONITOR_TOKEN") or "").strip()


def _worst(document: dict[str, Any]) -> str:
    if document.get("waiting_on"):  # a look waits on a failing backend
        return str(document["waiting_on"])
    checks = document.get("checks") or []
    bad = [c for c in checks if c.get("classification") in ("high", "low", "error")]
    chosen = bad[0] if bad else (checks[0] if checks else None)
    if chosen is None:  # before the first look: the summary says what it waits for (or on)
        return str(document.get("summary") or "no checks yet")
    return f"{chosen['name']}: {chosen['message']}"


async def _report_line(session: aiohttp.ClientSession, base: str, deployment_id: str) -> str:
    """``report: <url>``: a fresh signed link from the daemon, else the plain address (a daemon
    without the route, or unreachable now: the verdict is known, so the gate does not wait)."""
    url = base + report_path(deployment_id)
    try:
        answer = await _call(session, "GET", f"{url}-link")
    except (Retry, MonitorError):
        return f"report: {url}"
    link = str(answer.get("url") or url)
    link = base + link if link.startswith("/") else link  # no public_url: a path on the daemon
    expires = f" (expires {answer['expires_at']})" if answer.get("expires_at") else ""
    return f"report: {link}{expires}"


async def _gate(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    timeout_s = parse_duration_s(args.timeout, "--timeout")
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"} if (token := _token(args)) else {}
    timeout = aiohttp.ClientTimeout(total=LONG_POLL_S + 15)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        deployment_id = args.deployment_id
        if not deployment_id:
            body = _registration(args)
            # One key for every attempt: a POST whose answer was lost must not register twice. A
            # CI job may pass its own (--idempotency-key $BUILD_TAG) so a re-run step attaches.
            key = {"Idempotency-Key": args.idempotency_key or f"gate-{uuid.uuid4()}"}
            created = await _retrying(
                deadline,
                lambda: _call(session, "POST", f"{base}/api/v1/deployments", json=body, headers=key),
            )
            deployment_id = created["id"]
            versions = f"{args.version} vs {args.baseline_version}"
            _say(f"registered deployment {deployment_id}: {args.service} {versions}")
        last_line = ""
        while True:
            wait_s = max(0.0, min(LONG_POLL_S, deadline - time.monotonic()))
            url = f"{base}/api/v1/deployments/{deployment_id}/verdict"
            document = await _retrying(
                deadline,
                lambda url=url, wait_s=wait_s: _call(session, "GET", url, params={"wait_s": f"{wait_s:.0f}"}),
            )
            status = str(document.get("verdict"))
            elapsed = fmt_duration(time.monotonic() - started)
            score = f"score {document.get('score', 0):g}"
            line = f"[{elapsed:>6}] {status:<12} {score}  {_worst(document)}"
            if line != last_line:
                _say(line)
                last_line = line
            if status in _EXIT:
                _say(f"verdict: {status.upper()}  {document.get('summary', '')}")
                for check in document.get("checks") or []:
                    _say(f"- {check['name']} [{check['classification']}]: {check['message']}")
                _say(await _report_line(session, base, deployment_id))
                return _EXIT[status]
            if time.monotonic() >= deadline:
                _say(f"no final verdict within --timeout {args.timeout}; the deployment keeps running")
                _say(await _report_line(session, base, deployment_id))
                return EXIT_UNDECIDED


def run_gate(args: argparse.Namespace) -> int:
    """Run the gate; errors are one line on stderr and exit 3."""
    try:
        return asyncio.run(_gate(args))
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR

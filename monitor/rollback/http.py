"""Rollback actions over HTTP: the signed webhook, Argo CD's rollback API, a feature-flag service."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from monitor.redact import redact_text, redact_url
from monitor.retry import WRITE_CONFLICTS, retryable_status
from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.configured import RollbackAction
from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


def _retryable(status: int) -> bool:
    return retryable_status(status, WRITE_CONFLICTS)


async def _request(
    session: aiohttp.ClientSession, method: str, url: str, what: str, **kwargs: Any
) -> tuple[int, str]:
    try:
        async with session.request(method, url, **kwargs) as response:
            return response.status, (await response.text(errors="replace")).strip()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ActionError(f"{what}: {type(exc).__name__}: {redact_text(str(exc))}", retryable=True) from None


def _raise_for(status: int, body: str, what: str) -> None:
    if not 200 <= status < 300:
        raise ActionError(f"{what}: HTTP {status} {body[:300]}", retryable=_retryable(status), status=status)


async def webhook(
    session: aiohttp.ClientSession,
    action: RollbackAction,
    target: Target,
    idempotency_key: str,
    dry_run: bool,
) -> ActionResult:
    """POST the rollback request, signed like the verdict webhooks (docs/webhooks.md)."""
    url = target.render(action.param("url"), f"{action.name}.url")
    shown = redact_url(url)  # a hook URL often carries its token (?token=...)
    if dry_run:
        return ActionResult(f"would POST the rollback request to {shown}", changed=False)
    body = json.dumps({"event": "rollback.requested", **json.loads(target.to_json())}).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "X-Monitor-Event": "rollback.requested",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(action.secret or "", timestamp, body),
    }
    status, text = await _request(session, "POST", url, f"webhook {shown}", data=body, headers=headers)
    _raise_for(status, text, f"webhook {shown}")
    return ActionResult(f"rollback requested from {shown} (HTTP {status})")


def _argocd_message(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:300]
    return (
        str(parsed.get("message") or parsed.get("error") or body)[:300] if isinstance(parsed, dict) else body
    )


async def argocd(
    session: aiohttp.ClientSession,
    action: RollbackAction,
    target: Target,
    dry_run: bool,
    *,
    started: int | None = None,
    mark: Callable[[int], Awaitable[None]] | None = None,
) -> ActionResult:
    """Roll the Argo CD application back to the history entry before the current one.

    Guarded like the Helm rollback: ``mark`` records the history id it starts from before the
    request; a retry (``started``) that finds a newer history entry has nothing left to undo.
    """
    base = target.render(action.param("url"), f"{action.name}.url").rstrip("/")
    app = target.render(action.param("application"), f"{action.name}.application")
    app_namespace = action.param("app_namespace")
    # Apps outside Argo CD's own namespace ("apps in any namespace") are addressed with appNamespace.
    query = (
        {"appNamespace": target.render(app_namespace, f"{action.name}.app_namespace")}
        if app_namespace
        else {}
    )
    headers = {"Authorization": f"Bearer {action.secret}"}
    what = f"Argo CD application {app}"
    status, text = await _request(
        session, "GET", f"{base}/api/v1/applications/{app}", what, headers=headers, params=query
    )
    if status == 404:
        raise ActionError(f"{what} not found ({_argocd_message(text)})", retryable=False, status=status)
    _raise_for(status, _argocd_message(text), what)
    application = json.loads(text)
    history = sorted((application.get("status") or {}).get("history") or [], key=lambda h: int(h["id"]))
    if len(history) < 2:
        raise ActionError(f"{what} has no earlier revision to roll back to", retryable=False)
    current, previous = history[-1], history[-2]
    if started is not None and int(current["id"]) > started:
        return ActionResult(
            f"{what} is at history {current['id']}, past {started}: already rolled back", False
        )
    if dry_run:
        return ActionResult(
            f"would roll {what} back from history {current['id']} ({current.get('revision')}) to "
            f"{previous['id']} ({previous.get('revision')})",
            changed=False,
        )
    if mark is not None:
        await mark(int(current["id"]))
    body: dict[str, Any] = {"id": int(previous["id"]), "dryRun": False, "prune": False, **query}
    status, text = await _request(
        session, "POST", f"{base}/api/v1/applications/{app}/rollback", what, json=body, headers=headers
    )
    if status == 400 and "auto-sync" in text:
        raise ActionError(
            f"{what}: Argo CD refuses to roll back while auto-sync is enabled ({_argocd_message(text)}); "
            "disable automated sync for the application, or revert in Git and let it sync",
            retryable=False,
            status=status,
        )
    _raise_for(status, _argocd_message(text), f"{what} rollback")
    return ActionResult(f"rolled {what} back to history {previous['id']} ({previous.get('revision')})")


async def feature_flag(
    session: aiohttp.ClientSession, action: RollbackAction, target: Target, dry_run: bool
) -> ActionResult:
    """Turn off the flag the deployment's ``flag_label`` names, with the configured request."""
    label = action.param("flag_label", "rollback/feature-flag")
    flag = target.labels.get(label)
    if not flag:
        raise ActionError(
            f"deployment {target.deployment_id} has no label {label!r} naming its feature flag; register it "
            f"with labels: {{{label}: <flag>}}",
            retryable=False,
        )
    extra = {"flag": flag}
    url = target.render(action.param("url"), f"{action.name}.url", extra)
    shown = redact_url(url)
    method = action.param("method", "POST").upper()
    body = target.render(action.param("body", '{"enabled": false}'), f"{action.name}.body", extra)
    if dry_run:
        return ActionResult(f"would {method} {shown} to turn flag {flag!r} off", changed=False)
    headers = {"Content-Type": "application/json"}
    if action.secret:
        headers["Authorization"] = f"Bearer {action.secret}"
    status, text = await _request(session, method, url, f"flag {flag!r}", data=body.encode(), headers=headers)
    _raise_for(status, text, f"flag service {method} {shown}")
    return ActionResult(f"flag {flag!r} turned off ({method} {shown}: HTTP {status})")

"""What was done about a deployment: the report's banner of rollbacks and pages.

Read from the outbox (each rollback action and page is an item: created when requested, delivered
or abandoned later) and from the audit trail, where the rollback channel writes each action's
outcome (:mod:`monitor.channels.rollback`). Pages are the pager channels' items: their idempotency
keys say whether an item triggers a page or resolves it (:mod:`monitor.channels.pager`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.api.report_format import when
from monitor.store import AuditEvent, Notification

ROLLBACK = "rollback"  # the audit-trail entry kind; outbox kinds are rollback:<action>
PAGERS = ("alertmanager", "pagerduty")


@dataclass(frozen=True)
class Action:
    """One line of the banner: its CSS class (requested, done, failed, pending), words and time."""

    css: str
    text: str
    at: str


def _rollback_outcome(event: AuditEvent) -> str | None:
    """The outcome an entry of the rollback channel records; None for the note made before acting."""
    message = event.message
    if "rolling back from " in message:
        return None
    if " failed: " in message:
        return "failed"
    if " dry run: " in message:
        return "dry run"
    if ": not run: " in message:
        return "not run"
    return "done"


def rollback_actions(events: Sequence[AuditEvent], items: Sequence[Notification]) -> list[Action]:
    """Rollback requested, then done, failed, not run or still pending (with the last error)."""
    requested = [n for n in items if n.kind.split(":", 1)[0] == ROLLBACK]
    outcomes = [(e, o) for e in events if e.kind == ROLLBACK and (o := _rollback_outcome(e)) is not None]
    if not requested and not outcomes:
        return []
    actions = []
    if requested:
        names = ", ".join(n.kind.split(":", 1)[-1] for n in requested)
        actions.append(Action("requested", f"Rollback requested ({names})", when(requested[0].created_at)))
    for event, outcome in outcomes:
        css = {"done": "done", "failed": "failed"}.get(outcome, "pending")
        actions.append(Action(css, f"Rollback {outcome}: {event.message}", when(event.at)))
    if not outcomes:
        actions.extend(_delivery(n, "Rollback", "Rollback done") for n in requested)
    return actions


def _delivery(item: Notification, noun: str, done: str) -> Action:
    """How one outbox item stands: ``done`` once delivered, else ``noun`` failed or pending."""
    if item.abandoned_at is not None:
        failed = f"{noun} failed ({item.kind}): {item.last_error or 'abandoned'}"
        return Action("failed", failed, when(item.abandoned_at))
    if item.delivered_at is not None:
        return Action("done", f"{done} ({item.kind})", when(item.delivered_at))
    retrying = f"; retrying after: {item.last_error}" if item.last_error else ""
    return Action("pending", f"{noun} pending ({item.kind}){retrying}", when(item.created_at))


def page_actions(items: Sequence[Notification]) -> list[Action]:
    """Page sent (or failed, or pending), then resolved, per pager."""
    actions = []
    for item in items:
        if item.kind not in PAGERS:
            continue
        if ":page:trigger" in item.idempotency_key:
            actions.append(_delivery(item, "Page", "Page sent"))
        elif ":page:resolve:" in item.idempotency_key:
            by = item.idempotency_key.split(":page:resolve:", 1)[1].rsplit(":", 1)[0]
            actions.append(_delivery(item, "Page resolution", f"Page resolved by {by}"))
    return actions


def banner(events: Sequence[AuditEvent], items: Sequence[Notification]) -> list[Action]:
    """Every rollback and page action, in the order they happened."""
    actions = rollback_actions(events, items) + page_actions(items)
    return sorted(actions, key=lambda a: a.at or datetime.max.isoformat())

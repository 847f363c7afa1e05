"""The :class:`Store`: every read and write of the monitor's database."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.errors import ConflictError, NotFoundError, StoreError
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, ErrorKind, ProbeResult
from monitor.store import rows
from monitor.store.batches import insert_isolating, refused_as_data
from monitor.store.dbfile import DatabaseFile
from monitor.store.engine import create_engine
from monitor.store.migrate import upgrade
from monitor.store.probe_rows import config_probes
from monitor.store.records import (
    AuditEvent,
    Delivery,
    Notification,
    OutboxItem,
    ProbeClaim,
    ProbeProgress,
    ProbingDeployment,
    RefusedRow,
    StoredVerdict,
    TelemetryRow,
)
from monitor.store.tables import deployments, events, outbox, probe_attempts, telemetry, verdicts

log = logging.getLogger(__name__)
_ACTIVE = (DeploymentStatus.PENDING.value, DeploymentStatus.RUNNING.value)
_CAP_LOG_EVERY = timedelta(minutes=1)


_LATEST = verdicts.alias("latest")
# Built once: constructing the statement would cost more than running it on SQLite.
_WITH_LATEST = (
    select(deployments, _LATEST.c.look, _LATEST.c.at, _LATEST.c.status.label("verdict_status"),
           _LATEST.c.score, _LATEST.c.final, _LATEST.c.document)
    .select_from(deployments.outerjoin(_LATEST, and_(
        _LATEST.c.deployment_id == deployments.c.id, _LATEST.c.look == deployments.c.looks_done,
    )))
)  # fmt: skip
_CURRENT = _WITH_LATEST.where(deployments.c.id == bindparam("deployment_id"))
_CURRENT_MANY = _WITH_LATEST.where(deployments.c.id.in_(bindparam("ids", expanding=True)))


def _with_latest(row: Any) -> tuple[Deployment, StoredVerdict | None]:
    m = row._mapping
    verdict = None
    if m["document"] is not None:
        verdict = rows.stored_verdict(m, status="verdict_status")
    return rows.deployment(row), verdict


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _unavailable(exc: DBAPIError | OSError) -> StoreError:
    """A database failure as the store's error: the API answers it with 503."""
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    return StoreError(f"database error ({type(reason).__name__}: {reason}); retry when it is back")


def _held(deployment_id: str, owner: str, now: datetime) -> ColumnElement[bool]:
    """The deployment's lease is held by ``owner`` and has not expired."""
    return and_(
        deployments.c.id == deployment_id,
        deployments.c.lease_owner == owner,
        deployments.c.lease_expires_at >= now,
    )


def _claim(row: Any) -> ProbeClaim:
    return ProbeClaim(
        row.id, row.deployment_id, row.probe, row.role, row.seq, rows.aware(row.started_at),
        row.finished_at is not None,
    )  # fmt: skip


def _attempt(row: Any) -> ProbeResult:
    return ProbeResult(
        row.probe, row.url, bool(row.ok), status=row.status, latency_s=row.latency_s,
        body_head=row.body_head, failed=row.failed, error=None if row.error is None else ErrorKind(row.error),
        detail=row.detail, at=rows.aware(row.started_at), role=row.role,
    )  # fmt: skip


_READ_ONLY_TRANSACTION = "25006"  # SQLSTATE read_only_sql_transaction


class Store:
    """Async access to the monitor's database. Create with :meth:`open`; close with :meth:`close`."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._listeners: list[Callable[[str], None]] = []
        self._file = DatabaseFile.of(engine.url)
        self._file_lost_logged = False
        self._probing_cap_logged: datetime | None = None

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(deployment_id)`` after this process commits a change to a deployment.

        Other processes' changes are not seen here; :meth:`changed_since` finds those.
        """
        self._listeners.append(listener)

    def _changed(self, *deployment_ids: str) -> None:
        for deployment_id in deployment_ids:
            for listener in self._listeners:
                listener(deployment_id)

    @classmethod
    async def open(cls, url: str, *, clock: Callable[[], datetime] = _utcnow) -> Store:
        """Connect to ``url`` and apply pending migrations."""
        engine = create_engine(url)
        try:
            await upgrade(engine)
        except (DBAPIError, OSError) as exc:
            await engine.dispose()
            reason = exc.orig if isinstance(exc, DBAPIError) else exc
            where = engine.url.render_as_string(hide_password=True)
            raise StoreError(f"database {where} unavailable ({reason}); is it running?") from exc
        return cls(engine, clock)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._engine.dispose()

    async def write_problem(self) -> str | None:
        """Why the database cannot take a write now, or None when it can: for readiness probes.

        SQLite: the file was deleted or replaced since the store opened it, or is read-only;
        PostgreSQL: the session is read-only (a standby, ``default_transaction_read_only``);
        either: the database does not answer. Never raises; the reason is one line.
        """
        if self._file is not None and (problem := self._file.unwritable()) is not None:
            return problem
        try:
            async with self._transaction() as connection:
                if connection.dialect.name != "postgresql":
                    await connection.exec_driver_sql("SELECT 1")
                    return None
                read_only = (await connection.exec_driver_sql("SHOW transaction_read_only")).scalar()
        except StoreError as exc:
            return str(exc)
        if read_only == "on":
            return (
                "the database is read-only (transaction_read_only is on: a standby, or "
                "default_transaction_read_only set); point --database at a writable primary"
            )
        return None

    def _check_file(self) -> None:
        """Refuse a write that would land in a SQLite file no longer reachable by its name."""
        if self._file is None or (problem := self._file.lost()) is None:
            return
        if not self._file_lost_logged:
            self._file_lost_logged = True
            log.error("%s", problem)
        raise StoreError(problem)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes: refused up front when the write could not last."""
        self._check_file()
        async with self._transaction() as connection:
            yield connection

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as connection:
                try:
                    yield connection
                except DBAPIError as exc:
                    if getattr(exc.orig, "sqlstate", None) == _READ_ONLY_TRANSACTION:
                        # A session opened while the database was read-only stays read-only after
                        # it is writable again: drop it, so the pool opens a fresh one.
                        await connection.invalidate()
                    raise
        except IntegrityError:
            raise
        except (DBAPIError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def _event(
        self,
        connection: AsyncConnection,
        deployment_id: str,
        kind: str,
        actor: str,
        message: str,
        data: Mapping[str, object] | None = None,
    ) -> None:
        await connection.execute(
            insert(events).values(
                deployment_id=deployment_id,
                at=self._clock(),
                kind=kind,
                actor=actor,
                message=message,
                data=dict(data) if data else None,
            )
        )

    async def _enqueue(
        self, connection: AsyncConnection, deployment_id: str, items: Sequence[OutboxItem]
    ) -> None:
        now = self._clock()
        for item in items:
            await connection.execute(
                insert(outbox).values(
                    deployment_id=deployment_id,
                    kind=item.kind,
                    idempotency_key=item.idempotency_key,
                    payload=item.payload_json,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
            )

    async def register(
        self,
        spec: DeploymentSpec,
        *,
        actor: str,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        notify: Callable[[str, DeploymentSpec], Sequence[OutboxItem]] | None = None,
    ) -> tuple[Deployment, bool]:
        """Register a deployment; return it and whether it is new.

        The same ``idempotency_key`` with the same spec returns the existing deployment; with
        another spec it raises :class:`ConflictError`. A newer deployment of the same service and
        environment supersedes an active older one, which is cancelled with the reason.
        ``request_digest`` identifies the request as sent (defaults filled in later, such as
        ``started_at = now``, must not make a retry look like another request). ``notify`` gives
        the outbox items a new deployment triggers (its id and spec in, e.g. a Grafana annotation),
        written in the registration's transaction.
        """
        digest = request_digest or rows.request_hash(spec)
        now = self._clock()
        if idempotency_key is not None:
            existing = await self._by_key(idempotency_key)
            if existing is not None:
                if existing[1] != digest:
                    raise ConflictError(
                        f"Idempotency-Key {idempotency_key!r} was used for a different deployment "
                        f"({existing[0].id}); use a new key for a new deployment"
                    )
                return existing[0], False
        deployment_id = str(uuid.uuid4())
        try:
            async with self._writing() as connection:
                superseded = await connection.execute(
                    select(deployments.c.id).where(
                        deployments.c.service == spec.service,
                        deployments.c.environment == spec.environment,
                        deployments.c.status.in_(_ACTIVE),
                    )
                )
                superseded_ids = [old_id for (old_id,) in superseded.all()]
                for old_id in superseded_ids:
                    reason = f"superseded by deployment {deployment_id} ({spec.version})"
                    await connection.execute(
                        update(deployments)
                        .where(deployments.c.id == old_id)
                        .values(status=DeploymentStatus.CANCELLED.value, status_reason=reason, updated_at=now)
                    )
                    await self._event(connection, old_id, "cancelled", actor, reason)
                await connection.execute(
                    insert(deployments).values(
                        id=deployment_id,
                        **rows.spec_values(spec),
                        status=DeploymentStatus.PENDING.value,
                        status_reason="",
                        created_at=now,
                        updated_at=now,
                        idempotency_key=idempotency_key,
                        request_hash=digest,
                        looks_done=0,
                        next_look_at=spec.started_at + timedelta(seconds=spec.warmup_s + spec.interval_s),
                    )
                )
                await self._event(
                    connection,
                    deployment_id,
                    "registered",
                    actor,
                    f"{spec.service} {spec.version} in {spec.environment}",
                )
                await self._enqueue(connection, deployment_id, notify(deployment_id, spec) if notify else ())
        except IntegrityError as exc:
            # Two registrations raced on the same key: the loser answers like a retry would.
            if idempotency_key is not None and (existing := await self._by_key(idempotency_key)):
                if existing[1] == digest:
                    return existing[0], False
                raise ConflictError(
                    f"Idempotency-Key {idempotency_key!r} was used for a different deployment"
                ) from exc
            raise StoreError(f"could not register the deployment ({exc.orig})") from exc
        self._changed(*superseded_ids, deployment_id)
        return await self.get(deployment_id), True

    async def _by_key(self, key: str) -> tuple[Deployment, str] | None:
        async with self._transaction() as connection:
            row = (
                await connection.execute(select(deployments).where(deployments.c.idempotency_key == key))
            ).first()
        return None if row is None else (rows.deployment(row), row._mapping["request_hash"])

    async def get(self, deployment_id: str) -> Deployment:
        """The deployment with this id; :class:`NotFoundError` if there is none."""
        async with self._transaction() as connection:
            row = (
                await connection.execute(select(deployments).where(deployments.c.id == deployment_id))
            ).first()
        if row is None:
            raise NotFoundError(f"no deployment {deployment_id!r}")
        return rows.deployment(row)

    async def list_deployments(
        self,
        *,
        service: str | None = None,
        status: DeploymentStatus | None = None,
        environment: str | None = None,
        version: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        """Deployments, newest first, optionally filtered."""
        query = select(deployments).order_by(deployments.c.created_at.desc()).limit(limit)
        for column, value in (
            (deployments.c.service, service),
            (deployments.c.environment, environment),
            (deployments.c.version, version),
            (deployments.c.status, status.value if status else None),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self._transaction() as connection:
            return [rows.deployment(row) for row in (await connection.execute(query)).all()]

    async def newest_per_service(self) -> list[Deployment]:
        """The newest deployment of every service in every environment (however old it is)."""
        rank = (
            func.row_number()
            .over(
                partition_by=(deployments.c.service, deployments.c.environment),
                order_by=deployments.c.created_at.desc(),
            )
            .label("rank")
        )
        ranked = select(*deployments.c, rank).subquery()
        query = select(ranked).where(ranked.c.rank == 1)
        async with self._transaction() as connection:
            return [rows.deployment(row) for row in (await connection.execute(query)).all()]

    async def cancel(self, deployment_id: str, *, actor: str, reason: str) -> Deployment:
        """Cancel an active deployment (a final one is returned unchanged)."""
        async with self._writing() as connection:
            result = await connection.execute(
                update(deployments)
                .where(deployments.c.id == deployment_id, deployments.c.status.in_(_ACTIVE))
                .values(
                    status=DeploymentStatus.CANCELLED.value, status_reason=reason, updated_at=self._clock()
                )
            )
            if result.rowcount:
                await self._event(connection, deployment_id, "cancelled", actor, reason)
        if result.rowcount:
            self._changed(deployment_id)
        return await self.get(deployment_id)

    async def events(self, deployment_id: str) -> list[AuditEvent]:
        """The audit trail of a deployment, oldest first."""
        query = select(events).where(events.c.deployment_id == deployment_id).order_by(events.c.id)
        async with self._transaction() as connection:
            return [
                AuditEvent(rows.aware(r.at), r.kind, r.actor, r.message, r.data or {})
                for r in (await connection.execute(query)).all()
            ]

    async def claim_due(
        self,
        owner: str,
        *,
        lease_s: float,
        limit: int = 10,
        on_takeover: Callable[[str], None] | None = None,
        settle_s: float = 0.0,
    ) -> list[Deployment]:
        """Lease up to ``limit`` active deployments whose next look is due and whose lease is free.

        A look is due ``settle_s`` after its time, once its data have had time to arrive.

        Each claim is a conditional UPDATE that only succeeds while the lease is free or
        expired, so two replicas never hold the same deployment at once. ``on_takeover`` hears
        of each deployment taken from another replica whose lease had expired.
        """
        now = self._clock()
        free = or_(deployments.c.lease_owner.is_(None), deployments.c.lease_expires_at < now)
        settled = now - timedelta(seconds=settle_s)
        due = and_(deployments.c.status.in_(_ACTIVE), deployments.c.next_look_at <= settled, free)
        claimed: list[str] = []
        async with self._transaction() as connection:
            candidates = (
                await connection.execute(
                    select(deployments.c.id, deployments.c.lease_owner)
                    .where(due)
                    .order_by(deployments.c.next_look_at)
                    .limit(limit)
                )
            ).all()
        for candidate, previous_owner in candidates:
            async with self._writing() as connection:
                result = await connection.execute(
                    update(deployments)
                    .where(deployments.c.id == candidate, due)
                    .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s))
                )
                if result.rowcount == 1:
                    claimed.append(candidate)
                    if on_takeover is not None and previous_owner not in (None, owner):
                        on_takeover(candidate)
        return [await self.get(deployment_id) for deployment_id in claimed]

    async def renew(self, deployment_id: str, owner: str, *, lease_s: float) -> bool:
        """Extend a held, unexpired lease; False when it was lost."""
        now = self._clock()
        async with self._writing() as connection:
            result = await connection.execute(
                update(deployments)
                .where(_held(deployment_id, owner, now))
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
            )
        return bool(result.rowcount == 1)

    async def release(self, deployment_id: str, owner: str) -> None:
        """Give a lease back (on shutdown, or after a look)."""
        async with self._writing() as connection:
            await connection.execute(
                update(deployments)
                .where(deployments.c.id == deployment_id, deployments.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    async def defer_look(
        self, deployment_id: str, *, owner: str, reason: str, next_look_at: datetime
    ) -> None:
        """A due look could not be judged: record why (status reason) and when it is tried again.

        The audit trail gets the reason when it changes, not at every retry. Only while ``owner``
        holds the lease; otherwise nothing is written.
        """
        now = self._clock()
        async with self._writing() as connection:
            previous = (
                await connection.execute(
                    select(deployments.c.status_reason).where(_held(deployment_id, owner, now))
                )
            ).scalar()
            if previous is None:
                return
            await connection.execute(
                update(deployments)
                .where(_held(deployment_id, owner, now), deployments.c.status.in_(_ACTIVE))
                .values(status_reason=reason, next_look_at=next_look_at, updated_at=now)
            )
            if previous != reason:
                await self._event(connection, deployment_id, "look deferred", owner, reason)
        self._changed(deployment_id)

    async def record_verdict(
        self,
        deployment_id: str,
        *,
        owner: str,
        verdict: StoredVerdict,
        next_look_at: datetime | None,
        notifications: Sequence[OutboxItem] = (),
    ) -> None:
        """Store one look's verdict, the deployment's new status and, if final, its notifications.

        All in one transaction, and only while ``owner`` still holds the lease: a replica that
        lost it (paused, then replaced) gets :class:`ConflictError` and writes nothing.
        """
        now = self._clock()
        status = DeploymentStatus(verdict.status) if verdict.final else DeploymentStatus.RUNNING
        try:
            async with self._writing() as connection:
                result = await connection.execute(
                    update(deployments)
                    .where(_held(deployment_id, owner, now), deployments.c.status.in_(_ACTIVE))
                    .values(
                        status=status.value,
                        status_reason="" if not verdict.final else f"verdict {verdict.status}",
                        looks_done=verdict.look,
                        next_look_at=None if verdict.final else next_look_at,
                        updated_at=now,
                    )
                    .returning(deployments.c.status)
                )
                if result.first() is None:
                    raise ConflictError(
                        f"lease on deployment {deployment_id} is not held by {owner}; not recording"
                    )
                previous = (
                    await connection.execute(
                        select(verdicts.c.status)
                        .where(verdicts.c.deployment_id == deployment_id)
                        .order_by(verdicts.c.look.desc())
                        .limit(1)
                    )
                ).scalar()
                await connection.execute(
                    insert(verdicts).values(
                        deployment_id=deployment_id,
                        look=verdict.look,
                        at=verdict.at,
                        status=verdict.status,
                        score=verdict.score,
                        final=verdict.final,
                        document=verdict.document_json,
                    )
                )
                if not verdict.final and previous != verdict.status:
                    # The audit trail records every change of the interim verdict, not every look.
                    change = (
                        f"interim verdict {previous or 'none'} -> {verdict.status} at look {verdict.look}"
                    )
                    await self._event(connection, deployment_id, "interim", owner, change)
                if verdict.final:
                    await self._event(
                        connection, deployment_id, "verdict", owner, f"final verdict {verdict.status}"
                    )
                    await self._enqueue(connection, deployment_id, notifications)
        except IntegrityError as exc:
            raise ConflictError(
                f"look {verdict.look} of deployment {deployment_id} is already recorded"
            ) from exc
        self._changed(deployment_id)

    async def add_event(
        self,
        deployment_id: str,
        kind: str,
        actor: str,
        message: str,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Append an entry to a deployment's audit trail; ``data`` holds JSON fields to read back."""
        async with self._writing() as connection:
            await self._event(connection, deployment_id, kind, actor, message, data)

    async def enqueue(self, deployment_id: str, items: Sequence[OutboxItem]) -> int:
        """Add outbox items outside a verdict; one already queued (same key) is left as it is."""
        added = 0
        for item in items:
            try:
                async with self._writing() as connection:
                    await self._enqueue(connection, deployment_id, [item])
                added += 1
            except IntegrityError:
                continue  # queued before, by this replica or another
        return added

    async def claim_deliveries(self, *, claim_s: float, limit: int = 20) -> list[Delivery]:
        """Claim undelivered outbox items that are due; a claim hides an item for ``claim_s``.

        Claims are conditional on the ``next_attempt_at`` seen, so two replicas never send the
        same attempt; a replica that dies mid-delivery leaves the item to be retried after
        ``claim_s``.
        """
        now = self._clock()
        due = and_(
            outbox.c.delivered_at.is_(None), outbox.c.abandoned_at.is_(None), outbox.c.next_attempt_at <= now
        )
        async with self._transaction() as connection:
            seen = (
                await connection.execute(
                    select(outbox.c.id, outbox.c.next_attempt_at)
                    .where(due)
                    .order_by(outbox.c.id)
                    .limit(limit)
                )
            ).all()
        claimed: list[Delivery] = []
        for item_id, next_attempt_at in seen:
            async with self._writing() as connection:
                result = await connection.execute(
                    update(outbox)
                    .where(outbox.c.id == item_id, outbox.c.next_attempt_at == next_attempt_at, due)
                    .values(next_attempt_at=now + timedelta(seconds=claim_s), attempts=outbox.c.attempts + 1)
                    .returning(
                        outbox.c.id,
                        outbox.c.deployment_id,
                        outbox.c.kind,
                        outbox.c.idempotency_key,
                        outbox.c.payload,
                        outbox.c.attempts,
                    )
                )
                row = result.first()
            if row is not None:
                claimed.append(Delivery(*row))
        return claimed

    async def finish_delivery(
        self,
        delivery_id: int,
        *,
        delivered: bool,
        error: str = "",
        retry_at: datetime | None = None,
        abandon: bool = False,
    ) -> None:
        """Mark an attempt delivered, failed (retried at ``retry_at``) or abandoned with the reason.

        An abandoned item (the receiver's answer means retrying cannot help) is never retried and
        leaves an entry in its deployment's audit trail.
        """
        now = self._clock()
        if delivered:
            values: dict[str, object] = {"delivered_at": now, "last_error": None}
        elif abandon:
            values = {"abandoned_at": now, "last_error": error[:2000]}
        else:
            values = {"last_error": error[:2000], "next_attempt_at": retry_at or now}
        async with self._writing() as connection:
            row = (
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id == delivery_id)
                    .values(**values)
                    .returning(outbox.c.deployment_id, outbox.c.kind)
                )
            ).first()
            if abandon and row is not None:
                await self._event(
                    connection, row.deployment_id, "delivery_failed", "outbox", f"{row.kind}: {error[:500]}"
                )

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered items and the creation time of the oldest."""
        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.delivered_at.is_(None), outbox.c.abandoned_at.is_(None)
        )
        async with self._transaction() as connection:
            count, oldest = (await connection.execute(query)).one()
        return int(count), rows.aware_or_none(oldest)

    async def look_documents(self, deployment_id: str) -> list[StoredVerdict]:
        """Every recorded look's verdict with its document, oldest first: what the report charts."""
        query = select(verdicts).where(verdicts.c.deployment_id == deployment_id).order_by(verdicts.c.look)
        async with self._transaction() as connection:
            return [rows.stored_verdict(r._mapping) for r in (await connection.execute(query)).all()]

    async def notifications(self, deployment_id: str) -> list[Notification]:
        """The deployment's outbox items (pages, rollbacks, webhooks) and how each delivery stands."""
        query = (
            select(outbox.c.kind, outbox.c.idempotency_key, outbox.c.created_at, outbox.c.attempts,
                   outbox.c.delivered_at, outbox.c.abandoned_at, outbox.c.last_error)
            .where(outbox.c.deployment_id == deployment_id)
            .order_by(outbox.c.id)
        )  # fmt: skip

        async with self._transaction() as connection:
            return [
                Notification(r.kind, r.idempotency_key, rows.aware(r.created_at), r.attempts,
                             rows.aware_or_none(r.delivered_at), rows.aware_or_none(r.abandoned_at),
                             r.last_error)
                for r in (await connection.execute(query)).all()
            ]  # fmt: skip

    async def changed_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """Ids and ``updated_at`` of the deployments updated at or after ``since``."""
        query = select(deployments.c.id, deployments.c.updated_at).where(deployments.c.updated_at >= since)
        async with self._transaction() as connection:
            return [(r.id, rows.aware(r.updated_at)) for r in (await connection.execute(query)).all()]

    async def current(self, deployment_id: str) -> tuple[Deployment, StoredVerdict | None]:
        """The deployment and its latest look's verdict, in one query: the API's hottest read."""
        async with self._transaction() as connection:
            row = (await connection.execute(_CURRENT, {"deployment_id": deployment_id})).first()
        if row is None:
            raise NotFoundError(f"no deployment {deployment_id!r}")
        return _with_latest(row)

    async def current_many(
        self, deployment_ids: Sequence[str]
    ) -> list[tuple[Deployment, StoredVerdict | None]]:
        """:meth:`current` for several deployments in one query (unknown ids are left out)."""
        if not deployment_ids:
            return []
        async with self._transaction() as connection:
            found = (await connection.execute(_CURRENT_MANY, {"ids": list(deployment_ids)})).all()
        return [_with_latest(row) for row in found]

    async def latest_verdict(self, deployment_id: str) -> StoredVerdict | None:
        """The most recent look's verdict, if any."""
        query = (
            select(verdicts)
            .where(verdicts.c.deployment_id == deployment_id)
            .order_by(verdicts.c.look.desc())
            .limit(1)
        )
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return rows.stored_verdict(row._mapping)

    async def add_telemetry(self, items: Sequence[TelemetryRow]) -> list[RefusedRow]:
        """Store flushed aggregates in one transaction; return the rows the database refused.

        A row refused as data (PostgreSQL takes no NUL in text, nor a value over its column's
        length) must not hold back the others: the batch is written again with the refused rows
        isolated (see :func:`~monitor.store.batches.insert_isolating`), still in one transaction.
        When the database fails rather than refuses, :class:`StoreError` is raised and nothing
        is stored, so the caller can send the whole batch again.
        """
        if not items:
            return []
        self._check_file()
        now = self._clock()
        values = [
            {"kind": t.kind, "service": t.service, "environment": t.environment, "version": t.version,
             "minute": t.minute, "payload": t.payload_json, "created_at": now}
            for t in items
        ]  # fmt: skip
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(telemetry), values)
            return []
        except (DBAPIError, OSError) as exc:
            if not refused_as_data(exc):
                raise _unavailable(exc) from exc
        except Exception as exc:
            if not refused_as_data(exc):
                raise
        async with self._writing() as connection:
            if connection.dialect.name == "sqlite":
                # The driver begins a transaction only before DML: without this, the first
                # savepoint would begin (and its release commit) a transaction of its own.
                await connection.exec_driver_sql("BEGIN")
            refused = await insert_isolating(connection, telemetry, values)
        return [RefusedRow(items[index], reason) for index, reason in refused]

    async def telemetry(
        self, kind: str, service: str, environment: str, start: datetime, end: datetime
    ) -> list[TelemetryRow]:
        """Aggregates of ``kind`` for a service in an environment with minutes in ``[start, end)``."""
        query = select(telemetry).where(
            telemetry.c.kind == kind,
            telemetry.c.service == service,
            telemetry.c.environment == environment,
            telemetry.c.minute >= start,
            telemetry.c.minute < end,
        )
        async with self._transaction() as connection:
            return [
                TelemetryRow(r.kind, r.service, r.environment, r.version, rows.aware(r.minute), r.payload)
                for r in (await connection.execute(query)).all()
            ]

    # --- smoke probes' attempts ---------------------------------------------------------------
    #
    # Claims are stamped with this process's clock and judged stale by another replica's: a
    # claim is retaken only once older than its probe's timeout plus a 30 s margin, so clocks
    # kept within seconds of each other (NTP) cannot make a live claim look abandoned.

    async def probing(self, limit: int = 500) -> list[ProbingDeployment]:
        """The non-final deployments that have smoke probes, oldest registration first, at most
        ``limit`` (the rest wait for a later poll; a warning says so, at most once a minute)."""
        query = (
            select(deployments)
            .where(deployments.c.status.in_(_ACTIVE), deployments.c.probes.is_not(None))
            .order_by(deployments.c.created_at)
            .limit(limit + 1)
        )
        async with self._transaction() as connection:
            found = (await connection.execute(query)).all()
        if len(found) > limit:
            now = self._clock()
            if self._probing_cap_logged is None or now - self._probing_cap_logged >= _CAP_LOG_EVERY:
                self._probing_cap_logged = now
                log.warning(
                    "more than %d deployments have smoke probes: only the %d oldest are probed this "
                    "poll; finish or cancel old deployments", limit, limit,
                )  # fmt: skip
        kept = found[:limit]
        return [ProbingDeployment(rows.deployment(r), config_probes(r._mapping["probes"])) for r in kept]

    async def probe_progress(
        self, deployment_ids: Sequence[str]
    ) -> dict[tuple[str, str, str], ProbeProgress]:
        """How far each probe and role of ``deployment_ids`` has got, by ``(deployment_id, probe,
        role)``: one grouped query for every deployment (a pair with no attempt yet is absent)."""
        if not deployment_ids:
            return {}
        open_ = probe_attempts.c.finished_at.is_(None)
        query = (
            select(
                probe_attempts.c.deployment_id, probe_attempts.c.probe, probe_attempts.c.role,
                func.max(probe_attempts.c.seq).label("last_seq"),
                func.count(probe_attempts.c.id).filter(open_).label("unfinished"),
                func.min(probe_attempts.c.started_at).filter(open_).label("oldest_unfinished_at"),
            )
            .where(probe_attempts.c.deployment_id.in_(deployment_ids))
            .group_by(probe_attempts.c.deployment_id, probe_attempts.c.probe, probe_attempts.c.role)
        )  # fmt: skip
        async with self._transaction() as connection:
            found = (await connection.execute(query)).all()
        progress = [
            ProbeProgress(r.deployment_id, r.probe, r.role, r.last_seq, r.unfinished,
                          rows.aware_or_none(r.oldest_unfinished_at))
            for r in found
        ]  # fmt: skip
        return {(p.deployment_id, p.probe, p.role): p for p in progress}

    async def probe_claims(self, deployment_id: str) -> list[ProbeClaim]:
        """Every attempt row of the deployment, claimed or finished, by probe, role and ``seq``."""
        query = (
            select(probe_attempts.c.id, probe_attempts.c.deployment_id, probe_attempts.c.probe,
                   probe_attempts.c.role, probe_attempts.c.seq, probe_attempts.c.started_at,
                   probe_attempts.c.finished_at)
            .where(probe_attempts.c.deployment_id == deployment_id)
            .order_by(probe_attempts.c.probe, probe_attempts.c.role, probe_attempts.c.seq)
        )  # fmt: skip
        async with self._transaction() as connection:
            return [_claim(r) for r in (await connection.execute(query)).all()]

    async def claim_probe_attempt(
        self, deployment_id: str, probe: str, role: str, seq: int, url: str
    ) -> ProbeClaim | None:
        """Claim attempt ``seq`` of ``probe`` against ``role`` (``url`` redacted); None when another
        replica (or an earlier run of this one) has it, or the deployment is gone.

        The claim is an INSERT under the attempt's unique key, which exactly one replica wins.
        """
        now = self._clock()
        try:
            async with self._writing() as connection:
                row = (
                    await connection.execute(
                        insert(probe_attempts)
                        .values(deployment_id=deployment_id, probe=probe, role=role, seq=seq,
                                started_at=now, url=_storable(url), body_head="", detail="")
                        .returning(probe_attempts.c.id)
                    )
                ).one()  # fmt: skip
        except IntegrityError:
            return None
        return ProbeClaim(row.id, deployment_id, probe, role, seq, now)

    async def retake_probe_attempt(self, claim: ProbeClaim, *, stale_before: datetime) -> ProbeClaim | None:
        """Take over an abandoned claim (its replica died mid-attempt): unfinished, begun before
        ``stale_before`` and still as seen in ``claim``; None when another replica was quicker."""
        now = self._clock()
        async with self._writing() as connection:
            result = await connection.execute(
                update(probe_attempts)
                .where(*_unchanged(claim), probe_attempts.c.started_at < stale_before)
                .values(started_at=now)
            )
        return ProbeClaim(claim.id, claim.deployment_id, claim.probe, claim.role, claim.seq, now) if (
            result.rowcount == 1
        ) else None  # fmt: skip

    async def finish_probe_attempt(self, claim: ProbeClaim, result: ProbeResult) -> bool:
        """Record the outcome of a claimed attempt; False when the claim was retaken meanwhile (or
        its deployment deleted).

        NUL bytes are left out of the text (PostgreSQL refuses them). Should the database still
        refuse the outcome as data, the attempt is recorded as failed, saying its answer could not
        be stored: a claim never finished would be retaken, and its request sent, again and again.
        """
        error = None if result.error is None else result.error.value
        values: dict[str, Any] = {
            "ok": result.ok, "status": result.status, "latency_s": result.latency_s,
            "url": _storable(result.url), "body_head": _storable(result.body_head),
            "failed": None if result.failed is None else _storable(result.failed),
            "error": error, "detail": _storable(result.detail),
        }  # fmt: skip
        try:
            return await self._finish(claim, values)
        except (StoreError, StatementError, UnicodeError) as exc:
            cause = exc.__cause__ if isinstance(exc, StoreError) else exc
            if cause is None or not refused_as_data(cause):
                raise  # the database is down: the claim is retaken once stale
            log.warning(
                "deployment %s: probe %s attempt %d: its outcome was refused (%s); recorded as failed",
                claim.deployment_id, claim.probe, claim.seq + 1, type(cause).__name__,
            )  # fmt: skip
        unstorable = f"the answer could not be stored ({type(cause).__name__}); its text is left out"
        # The outcome stands (a good answer stays good); only its text is dropped, and said so.
        failed_text = result.failed is not None and result.error is None
        return await self._finish(
            claim,
            {
                "ok": result.ok, "status": result.status, "latency_s": result.latency_s, "url": "",
                "body_head": "", "failed": unstorable if failed_text else None, "error": error,
                "detail": "" if failed_text else unstorable,
            },
        )  # fmt: skip

    async def _finish(self, claim: ProbeClaim, values: dict[str, Any]) -> bool:
        async with self._writing() as connection:
            written = await connection.execute(
                update(probe_attempts).where(*_unchanged(claim)).values(finished_at=self._clock(), **values)
            )
        return bool(written.rowcount == 1)

    async def probe_results(
        self, deployment_id: str, probe: str, role: str, until: datetime
    ) -> list[ProbeResult]:
        """The attempts of ``probe`` against ``role`` finished before ``until``, oldest first: a look
        sees the same attempts however late it is evaluated (one still in flight at its time is
        the next look's)."""
        query = (
            select(probe_attempts)
            .where(
                probe_attempts.c.deployment_id == deployment_id,
                probe_attempts.c.probe == probe,
                probe_attempts.c.role == role,
                probe_attempts.c.finished_at < until,
            )
            .order_by(probe_attempts.c.seq)
        )
        async with self._transaction() as connection:
            return [_attempt(r) for r in (await connection.execute(query)).all()]


def _unchanged(claim: ProbeClaim) -> tuple[ColumnElement[bool], ...]:
    """The compare-and-set of a claim's update: its attempt still unfinished and stamped as
    ``claim`` saw it (a retake restamps it, so the replica it was taken from writes nothing)."""
    return (
        probe_attempts.c.id == claim.id,
        probe_attempts.c.started_at == claim.started_at,
        probe_attempts.c.finished_at.is_(None),
    )


def _storable(text: str) -> str:
    """``text`` without NUL bytes, which PostgreSQL's text refuses (a binary answer's head has them)."""
    return text.replace("\x00", "")

"""Audit-trail entries carry fields (``data``, JSON) beside their message.

A rollback to "the previous revision" (Helm, Argo CD) records where it starts before acting, so
a retry does not roll back twice; that position is now a field. Entries written before this
revision said it only in their message (``<action> (<type>): rolling back from revision <n>``):
the upgrade copies it into ``data`` once, so a rollback in flight across the upgrade keeps its
guard.

Revision ID: 0005
Revises: 0004
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The message of a rollback's start, as revisions up to 0004 wrote it.
_START = re.compile(r"(?P<action>.+) \((?:helm|argocd)\): rolling back from (?:revision|history) (?P<at>\d+)")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
    events = sa.table(
        "events", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("message", sa.Text),
        sa.column("data", sa.JSON),
    )  # fmt: skip
    bind = op.get_bind()
    starts = bind.execute(
        sa.select(events.c.id, events.c.message).where(
            events.c.kind == "rollback", events.c.message.like("%: rolling back from %")
        )
    ).all()
    for event_id, message in starts:
        match = _START.fullmatch(message)
        if match is not None:
            data = {"action": match["action"], "started_from": int(match["at"])}
            bind.execute(sa.update(events).where(events.c.id == event_id).values(data=data))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("data")

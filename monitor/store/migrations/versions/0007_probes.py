"""Smoke probes: deployments carry their probes and blue/green preview address; each probe
attempt is a row of ``probe_attempts``.

Deployments registered before this revision have no probes (``probes`` NULL) and no preview.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch (see 0006): SQLite would copy deployments, and dropping the old
# copy deletes (ON DELETE CASCADE) every verdict and audit-trail entry of every deployment.


def upgrade() -> None:
    op.add_column("deployments", sa.Column("probes", sa.Text(), nullable=True))
    op.add_column("deployments", sa.Column("preview_url", sa.Text(), nullable=True))
    op.create_table(
        "probe_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "deployment_id",
            sa.String(36),
            sa.ForeignKey("deployments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("probe", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body_head", sa.Text(), nullable=False, server_default=""),
        sa.Column("failed", sa.Text(), nullable=True),
        sa.Column("error", sa.String(50), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("deployment_id", "probe", "role", "seq", name="uq_probe_attempts_seq"),
    )
    op.create_index("ix_probe_attempts_deployment", "probe_attempts", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_probe_attempts_deployment", table_name="probe_attempts")
    op.drop_table("probe_attempts")
    # SQLite >= 3.35 drops a column in place (no table copy, so no cascade).
    op.drop_column("deployments", "preview_url")
    op.drop_column("deployments", "probes")

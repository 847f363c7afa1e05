"""Deployments carry their before/after baseline choice (previous, day, week or auto).

Deployments registered before this revision were all judged against the window just before their
switch: the column's default, ``previous``, says so for them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch: SQLite would copy the table, and dropping the old copy deletes
# (ON DELETE CASCADE) every verdict and audit-trail entry of every deployment.


def upgrade() -> None:
    op.add_column(
        "deployments", sa.Column("baseline", sa.String(20), nullable=False, server_default="previous")
    )


def downgrade() -> None:
    op.drop_column("deployments", "baseline")

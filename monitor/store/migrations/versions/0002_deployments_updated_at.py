"""An index on deployments.updated_at, for the API's feed of changed deployments.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deployments_updated_at", "deployments", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_updated_at", table_name="deployments")

"""accounts deleted by their owner (a tombstone), and messages past the
chat retention

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE: SQLite must never rebuild users or messages (0021).
    op.add_column("users", sa.Column("deleted_at", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("expired_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "expired_at")
    op.drop_column("users", "deleted_at")

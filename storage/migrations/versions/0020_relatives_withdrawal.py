"""relatives: a manager withdraws their consent (the row stays, as a record)

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("relatives", sa.Column("withdrawn_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("relatives", "withdrawn_at")

"""locales: each user and each practice has a language (French by default)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("users", "practices"):
        op.add_column(
            table, sa.Column("locale", sa.String(length=8), nullable=False, server_default="fr")
        )


def downgrade() -> None:
    for table in ("practices", "users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("locale")

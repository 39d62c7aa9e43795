"""birth dates: practitioners find their patients by name and date of birth

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("birth_date", sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "birth_date")  # plain: rebuilding users trips its foreign keys

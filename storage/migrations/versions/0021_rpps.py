"""the public directory of health professionals (RPPS), and the number an
admin verified each practitioner's account against

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_professionals",
        sa.Column("rpps", sa.String(length=20), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("profession", sa.String(length=100), nullable=False),
        sa.Column("specialty", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rpps", name=op.f("pk_health_professionals")),
    )
    # A column and a unique index, not a constraint: on SQLite a constraint
    # means rebuilding users, which its foreign keys forbid once rows point at it.
    op.add_column("users", sa.Column("rpps", sa.String(length=20), nullable=True))
    op.create_index("ix_users_rpps", "users", ["rpps"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_rpps", table_name="users")
    op.drop_column("users", "rpps")
    op.drop_table("health_professionals")

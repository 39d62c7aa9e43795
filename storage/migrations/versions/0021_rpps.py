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
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("rpps", sa.String(length=20), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_rpps"), ["rpps"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_rpps"), type_="unique")
        batch.drop_column("rpps")
    op.drop_table("health_professionals")

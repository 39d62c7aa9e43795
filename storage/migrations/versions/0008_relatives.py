"""relatives managed by a patient, with their consent

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "relatives",
        sa.Column("manager_id", ID, nullable=False),
        sa.Column("relative_id", ID, nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("consent", sa.String(length=500), nullable=False),
        sa.Column("consent_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name=op.f("fk_relatives_manager_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["relative_id"], ["users.id"], name=op.f("fk_relatives_relative_id_users")
        ),
        sa.PrimaryKeyConstraint("manager_id", "relative_id", name=op.f("pk_relatives")),
    )


def downgrade() -> None:
    op.drop_table("relatives")

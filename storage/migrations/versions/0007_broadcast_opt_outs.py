"""patients who opted out of a practitioner's broadcasts

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broadcast_opt_outs",
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["users.id"],
            name=op.f("fk_broadcast_opt_outs_practitioner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_broadcast_opt_outs_patient_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "practitioner_id", "patient_id", name=op.f("pk_broadcast_opt_outs")
        ),
    )


def downgrade() -> None:
    op.drop_table("broadcast_opt_outs")

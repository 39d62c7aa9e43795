"""delegations: the server's index of the delegates in signed device lists

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("principal_id", ID, nullable=False),
        sa.Column("delegate_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("reads", sa.Boolean(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=True),
        sa.Column("granted_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["users.id"], name=op.f("fk_delegations_principal_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"], ["users.id"], name=op.f("fk_delegations_delegate_id_users")
        ),
        sa.PrimaryKeyConstraint("principal_id", "delegate_id", name=op.f("pk_delegations")),
    )
    op.create_index("ix_delegations_delegate", "delegations", ["delegate_id"])


def downgrade() -> None:
    op.drop_index("ix_delegations_delegate", table_name="delegations")
    op.drop_table("delegations")

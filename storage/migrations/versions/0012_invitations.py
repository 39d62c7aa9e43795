"""invitations: joining a practice, and becoming a practitioner's patient, take the
invitee's acceptance

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "practice_invitations",
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("invited_by", ID, nullable=False),
        sa.Column("invited_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_practice_invitations_practice_id_practices"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_practice_invitations_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_practice_invitations_invited_by_users")
        ),
        sa.PrimaryKeyConstraint("practice_id", "user_id", name=op.f("pk_practice_invitations")),
    )
    op.create_index(
        "ix_practice_invitations_user", "practice_invitations", ["user_id"], unique=False
    )
    op.create_table(
        "care_invitations",
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("invited_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["users.id"],
            name=op.f("fk_care_invitations_practitioner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_care_invitations_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("practitioner_id", "patient_id", name=op.f("pk_care_invitations")),
    )
    op.create_index("ix_care_invitations_patient", "care_invitations", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_care_invitations_patient", table_name="care_invitations")
    op.drop_table("care_invitations")
    op.drop_index("ix_practice_invitations_user", table_name="practice_invitations")
    op.drop_table("practice_invitations")

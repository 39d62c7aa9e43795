"""practices, care relations, inbox settings, verified practitioners,
thread reasons and closing, notices without a sending device

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("subject_id", ID, nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", ID, nullable=True))
        batch_op.add_column(
            sa.Column("reply_allowed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_threads_subject_id_users"), "users", ["subject_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_threads_closed_by_users"), "users", ["closed_by"], ["id"]
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("sender_device_id", existing_type=ID, nullable=True)
        batch_op.create_index("ix_messages_sender_sent", ["sender_id", "sent_at"], unique=False)

    op.create_table(
        "practices",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_practices_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practices")),
    )
    op.create_table(
        "practice_members",
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("added_by", ID, nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_practice_members_practice_id_practices"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_practice_members_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_practice_members_added_by_users")
        ),
        sa.PrimaryKeyConstraint("practice_id", "user_id", name=op.f("pk_practice_members")),
    )
    op.create_index("ix_practice_members_user", "practice_members", ["user_id"], unique=False)
    op.create_table(
        "care_relations",
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["users.id"],
            name=op.f("fk_care_relations_practitioner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_care_relations_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("practitioner_id", "patient_id", name=op.f("pk_care_relations")),
    )
    op.create_index("ix_care_relations_patient", "care_relations", ["patient_id"], unique=False)
    op.create_table(
        "inboxes",
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("settings", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["users.id"], name=op.f("fk_inboxes_practitioner_id_users")
        ),
        sa.PrimaryKeyConstraint("practitioner_id", name=op.f("pk_inboxes")),
    )


def downgrade() -> None:
    op.drop_table("inboxes")
    op.drop_index("ix_care_relations_patient", table_name="care_relations")
    op.drop_table("care_relations")
    op.drop_index("ix_practice_members_user", table_name="practice_members")
    op.drop_table("practice_members")
    op.drop_table("practices")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_sender_sent")
        batch_op.alter_column("sender_device_id", existing_type=ID, nullable=False)
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_threads_closed_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_threads_subject_id_users"), type_="foreignkey")
        for column in ("reply_allowed", "closed_by", "closed_at", "subject_id", "reason"):
            batch_op.drop_column(column)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("verified_at")

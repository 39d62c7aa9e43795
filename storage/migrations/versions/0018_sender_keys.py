"""sender keys: a device's key for a thread, sealed once to each reading device

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sender_keys",
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("key_id", sa.LargeBinary(16), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("signed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_sender_keys_thread_id_threads")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_sender_keys_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sender_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("thread_id", "device_id", "key_id", name=op.f("pk_sender_keys")),
    )
    op.create_table(
        "sender_key_wraps",
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("sender_device_id", ID, nullable=False),
        sa.Column("key_id", sa.LargeBinary(16), nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(80), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id", "sender_device_id", "key_id"],
            ["sender_keys.thread_id", "sender_keys.device_id", "sender_keys.key_id"],
            name=op.f("fk_sender_key_wraps_thread_id_sender_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_sender_key_wraps_device_id_devices")
        ),
        sa.PrimaryKeyConstraint(
            "thread_id", "sender_device_id", "key_id", "device_id", name=op.f("pk_sender_key_wraps")
        ),
    )


def downgrade() -> None:
    op.drop_table("sender_key_wraps")
    op.drop_table("sender_keys")

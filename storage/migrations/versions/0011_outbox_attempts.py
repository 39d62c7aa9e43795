"""notification outbox: each entry is claimed for an attempt and retried on its own

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notification_outbox",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "notification_outbox",
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.drop_index("ix_notification_outbox_pending", table_name="notification_outbox")
    op.create_index(
        "ix_notification_outbox_pending", "notification_outbox", ["delivered_at", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_pending", table_name="notification_outbox")
    op.create_index("ix_notification_outbox_pending", "notification_outbox", ["delivered_at", "id"])
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")

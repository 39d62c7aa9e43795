"""hourly counts of a patient's messages to a practitioner (the daily limit)

Revision ID: 0017
Revises: 0016
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HOUR_MS = 3_600_000

# The last day's messages from people (not notices), counted by hour for
# every other member of their thread, as the limit counted them before.
_BACKFILL = sa.text(
    """
    INSERT INTO sent_counts (sender_id, recipient_id, hour, count)
    SELECT m.sender_id, p.user_id, m.sent_at / :hour_ms, count(*)
    FROM messages m JOIN participants p ON p.thread_id = m.thread_id
    WHERE m.sent_at >= :since AND m.sender_device_id IS NOT NULL
      AND p.user_id != m.sender_id
    GROUP BY m.sender_id, p.user_id, m.sent_at / :hour_ms
    """
)


def upgrade() -> None:
    op.create_table(
        "sent_counts",
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_sent_counts_sender_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_sent_counts_recipient_id_users")
        ),
        sa.PrimaryKeyConstraint("sender_id", "recipient_id", "hour", name=op.f("pk_sent_counts")),
    )
    since = int(time.time() * 1000) - 24 * HOUR_MS
    op.get_bind().execute(_BACKFILL, {"hour_ms": HOUR_MS, "since": since})
    with op.batch_alter_table("messages") as batch_op:  # the limit no longer scans messages
        batch_op.drop_index("ix_messages_sender_sent")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index("ix_messages_sender_sent", ["sender_id", "sent_at"], unique=False)
    op.drop_table("sent_counts")

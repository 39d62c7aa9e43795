"""notification preferences, muted threads, mobile push tokens

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notify_preferences",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("settings", sa.LargeBinary(), nullable=False),
        sa.Column("emailed_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notify_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notify_preferences")),
    )
    op.add_column(
        "participants",
        sa.Column("muted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "push_subscriptions",
        sa.Column("platform", sa.String(length=8), server_default="web", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("push_subscriptions") as batch:
        batch.drop_column("platform")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("muted")
    op.drop_table("notify_preferences")

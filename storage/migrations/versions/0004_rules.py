"""vacation and auto-reply rules, and the auto-replies they sent

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["users.id"], name=op.f("fk_rules_practitioner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
    )
    op.create_index(op.f("ix_rules_practitioner_id"), "rules", ["practitioner_id"], unique=False)
    op.create_table(
        "rule_firings",
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("occurrence", sa.BigInteger(), nullable=False),
        sa.Column("fired_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "thread_id", "occurrence", name=op.f("pk_rule_firings")),
    )


def downgrade() -> None:
    op.drop_table("rule_firings")
    op.drop_index(op.f("ix_rules_practitioner_id"), table_name="rules")
    op.drop_table("rules")

"""reply templates

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", ID, nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("practice_id", ID, nullable=True),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_templates_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_templates_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index(op.f("ix_templates_owner_id"), "templates", ["owner_id"], unique=False)
    op.create_index(op.f("ix_templates_practice_id"), "templates", ["practice_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_templates_practice_id"), table_name="templates")
    op.drop_index(op.f("ix_templates_owner_id"), table_name="templates")
    op.drop_table("templates")

"""a thread's filings into the record, found among its audit lines

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

FILED = sa.text("action = 'filed'")


def upgrade() -> None:
    op.create_index(
        "ix_audit_filed",
        "audit",
        ["thread_id", "seq"],
        sqlite_where=FILED,
        postgresql_where=FILED,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_filed", table_name="audit")

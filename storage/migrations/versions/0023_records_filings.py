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
    for name, columns in (
        ("ix_audit_filed", ["thread_id", "seq"]),  # how far each thread was filed
        ("ix_audit_filer", ["actor_id", "thread_id", "seq"]),  # how far each device filed
    ):
        op.create_index(name, "audit", columns, sqlite_where=FILED, postgresql_where=FILED)


def downgrade() -> None:
    op.drop_index("ix_audit_filer", table_name="audit")
    op.drop_index("ix_audit_filed", table_name="audit")

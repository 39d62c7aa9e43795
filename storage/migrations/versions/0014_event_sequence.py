"""event seqs from a sequence on PostgreSQL: writers no longer queue behind
the ``events`` row of ``stream_positions`` (SQLite keeps using that row)

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # CACHE 1: each nextval takes the next value (storage.events.Horizon needs it).
    op.execute("CREATE SEQUENCE event_seq AS bigint MINVALUE 1 CACHE 1")
    op.execute(
        "SELECT setval('event_seq', GREATEST(value, 1), value > 0)"
        " FROM stream_positions WHERE name = 'events'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "UPDATE stream_positions SET value ="
        " (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_seq)"
        " WHERE name = 'events'"
    )
    op.execute("DROP SEQUENCE event_seq")

"""booking: agendas, their exceptions, appointments, reminders, notification outbox

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"))


def upgrade() -> None:
    op.create_table(
        "agendas",
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("settings", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        _user("practitioner_id", "agendas"),
        sa.PrimaryKeyConstraint("practitioner_id", name=op.f("pk_agendas")),
    )
    op.create_table(
        "agenda_exceptions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.String(length=1100), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        _user("practitioner_id", "agenda_exceptions"),
        _user("created_by", "agenda_exceptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_exceptions")),
    )
    op.create_index(
        "ix_agenda_exceptions_practitioner", "agenda_exceptions", ["practitioner_id", "ends_at"]
    )
    op.create_table(
        "appointments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("practitioner_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("video", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_by", ID, nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=False),
        _user("practitioner_id", "appointments"),
        _user("patient_id", "appointments"),
        _user("subject_id", "appointments"),
        _user("created_by", "appointments"),
        _user("cancelled_by", "appointments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_practitioner", "appointments", ["practitioner_id", "starts_at"]
    )
    op.create_index("ix_appointments_patient", "appointments", ["patient_id", "starts_at"])
    op.create_table(
        "reminders",
        sa.Column("appointment_id", ID, nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_reminders_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", "offset_minutes", name=op.f("pk_reminders")),
    )
    op.create_index("ix_reminders_due", "reminders", ["sent_at", "due_at"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        _user("user_id", "notification_outbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index("ix_notification_outbox_pending", "notification_outbox", ["delivered_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_pending", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_reminders_due", table_name="reminders")
    op.drop_table("reminders")
    op.drop_index("ix_appointments_patient", table_name="appointments")
    op.drop_index("ix_appointments_practitioner", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index("ix_agenda_exceptions_practitioner", table_name="agenda_exceptions")
    op.drop_table("agenda_exceptions")
    op.drop_table("agendas")

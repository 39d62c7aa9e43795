"""carehub storage: SQLAlchemy models, repositories and migrations."""

from contextlib import AbstractAsyncContextManager

from storage.account_audit import AccountAudit, AccountAuditRow
from storage.accounts import Accounts, Credentials, Session, SessionRecord, UserRecord
from storage.agenda import Agendas, ExceptionRecord
from storage.appointments import AppointmentRecord, Appointments
from storage.audit import Audit, AuditRow
from storage.db import Database
from storage.delegations import DelegationRecord, Delegations, Grant
from storage.errors import Conflict, StorageError, Unavailable
from storage.events import Events, NewEvent, StoredEvent
from storage.files import FileRecord, Files
from storage.keys import Keys
from storage.messages import Messages, StoredMessage
from storage.outbox import Outbox
from storage.practice import PracticeRecord, Practices
from storage.professionals import Professional, Professionals
from storage.push import PushSubscriptions, PushTarget
from storage.relatives import RelativeRecord, Relatives
from storage.retention import Retention
from storage.rules import Rules
from storage.second_factor import PasswordResets, SecondFactor
from storage.templates import Templates
from storage.threads import MemberRecord, Receipt, ThreadRecord, Threads
from storage.tx import WriteTx, write_tx

__all__ = [
    "AccountAudit",
    "AccountAuditRow",
    "Accounts",
    "Agendas",
    "AppointmentRecord",
    "Appointments",
    "Audit",
    "AuditRow",
    "Conflict",
    "Credentials",
    "Database",
    "DelegationRecord",
    "Delegations",
    "Events",
    "ExceptionRecord",
    "FileRecord",
    "Files",
    "Grant",
    "Keys",
    "MemberRecord",
    "Messages",
    "NewEvent",
    "Outbox",
    "PasswordResets",
    "PracticeRecord",
    "Practices",
    "Professional",
    "Professionals",
    "PushSubscriptions",
    "PushTarget",
    "Receipt",
    "RelativeRecord",
    "Relatives",
    "Retention",
    "Rules",
    "SecondFactor",
    "Session",
    "SessionRecord",
    "StorageError",
    "Store",
    "StoredEvent",
    "StoredMessage",
    "Templates",
    "ThreadRecord",
    "Threads",
    "Unavailable",
    "UserRecord",
    "WriteTx",
]


class Store:
    """The repositories over one database."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.accounts = Accounts(self.db)
        self.professionals = Professionals(self.db)
        self.account_audit = AccountAudit(self.db)
        self.second_factor = SecondFactor(self.db)
        self.password_resets = PasswordResets(self.db)
        self.threads = Threads(self.db)
        self.messages = Messages(self.db)
        self.events = Events(self.db)
        self.keys = Keys(self.db)
        self.files = Files(self.db)
        self.practices = Practices(self.db)
        self.rules = Rules(self.db)
        self.templates = Templates(self.db)
        self.audit = Audit(self.db)
        self.retention = Retention(self.db)
        self.relatives = Relatives(self.db)
        self.delegations = Delegations(self.db)
        self.agendas = Agendas(self.db)
        self.appointments = Appointments(self.db)
        self.outbox = Outbox(self.db)
        self.push = PushSubscriptions(self.db)

    def write(self) -> AbstractAsyncContextManager[WriteTx]:
        """A write transaction (``storage.tx``): commits on success."""
        return write_tx(self.db)

    async def close(self) -> None:
        await self.db.close()

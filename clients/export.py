"""A person's own conversations and documents, exported on their device:
every message they can read decrypted here, every document downloaded and
decrypted, written as a readable archive and as FHIR (``docs/accounts.md``,
"Your own data").

The archive, in ``into``:

- ``index.html``: the conversations, each with its people, reason and
  dates, in French and English, readable in any browser without carehub;
- ``conversations/<thread>.html``: each conversation's messages in order;
- ``documents/``: the documents, decrypted, under their own names;
- ``conversations.json``: the same, for a program;
- ``fhir.json``: a FHIR ``Bundle`` (``clients.fhir``): Communication,
  DocumentReference, Patient, Practitioner.

Nothing is sent anywhere: the server only hands over ciphertext it already
holds. Messages this device cannot open (sealed before it existed, say)
are counted and listed as such, never dropped silently.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from clients.e2e import Secure
from clients.errors import E2EError
from clients.fhir import Conversation, ReadDocument, ReadMessage, bundle, conversation_resources
from clients.reading import document, history, members, people, read_message, subject
from protocol.e2e import DocumentRef
from protocol.model import Role, ThreadInfo
from protocol.practice import RelativeInfo

__all__ = ["Exported", "export_conversations"]

UNSAFE = re.compile(r"[^\w.\- ]+")
MAX_NAME = 120  # characters of a document's own name kept in its file's


@dataclass(slots=True)
class Exported:
    """What an export wrote."""

    conversations: int = 0
    messages: int = 0
    documents: int = 0
    unreadable: list[int] = field(default_factory=list)  # message ids this device cannot open
    fhir_refused: list[int] = field(default_factory=list)  # conversations left out of fhir.json


async def export_conversations(secure: Secure, into: Path) -> Exported:
    """Write the caller's conversations into ``into`` (made if missing)."""
    (into / "conversations").mkdir(parents=True, exist_ok=True)
    (into / "documents").mkdir(exist_ok=True)
    # A delegate's list holds the threads of those they read for: theirs, not the delegate's.
    threads = [t for t in (await secure.client.call("threads.list")).threads if t.via is None]
    relatives = {r.user: r.name for r in (await _relatives(secure))}
    done, talks = Exported(), []
    for thread in sorted(threads, key=lambda t: t.id):
        talk = await _conversation(secure, thread, relatives, into, done)
        talks.append(talk)
        (into / "conversations" / f"{thread.id}.html").write_text(_page(talk), encoding="utf-8")
    done.conversations = len(talks)
    (into / "index.html").write_text(_index(talks, done), encoding="utf-8")
    data = {"conversations": [asdict(talk) for talk in talks], "unreadable": done.unreadable}
    (into / "conversations.json").write_text(_json(data, lambda b: b.hex()), encoding="utf-8")
    resources = [entry for talk in talks for entry in _fhir(talk, done)]
    (into / "fhir.json").write_text(_json(bundle(resources)), encoding="utf-8")
    return done


def _fhir(talk: Conversation, done: Exported) -> list[tuple[str, dict[str, Any]]]:
    """The conversation's resources; one a FHIR model refuses leaves it out
    of ``fhir.json`` (named in ``fhir_refused``), not the others nor the archive."""
    try:
        return conversation_resources(talk)
    except ValueError:
        done.fhir_refused.append(talk.id)
        return []


async def _relatives(secure: Secure) -> list[RelativeInfo]:
    """The relatives whose profile the caller manages (a patient's only)."""
    welcome = secure.client.welcome
    if welcome is None or welcome.role != Role.PATIENT:  # the welcome says who this is
        return []
    return list((await secure.client.call("relatives.list")).relatives)


async def _conversation(
    secure: Secure, thread: ThreadInfo, relatives: dict[int, str], into: Path, done: Exported
) -> Conversation:
    present = members(thread)
    keep = partial(_save, into)
    read = []
    for message in await history(secure, thread.id):
        try:
            read.append(await read_message(secure, message, keep))
        except E2EError:
            done.unreadable.append(message.id)
            continue
        if not (message.retracted or message.expired or read[-1].notice):
            done.messages += 1
            done.documents += len(read[-1].documents)
    known = {m.id for m in present}
    former = await people(secure, {m.sender for m in read if not m.notice} - known)
    about = subject(thread, present, relatives)
    return Conversation(thread.id, thread.reason, present, about, read, former)


def _save(into: Path, message: int, n: int, ref: DocumentRef, data: bytes) -> ReadDocument:
    """Write a decrypted document into ``documents/``, under its own name
    made safe (no path, no control characters), prefixed to be unique."""
    safe = UNSAFE.sub("_", Path(ref.name.replace("\\", "/")).name)[:MAX_NAME] or "document"
    name = f"{message}-{n}-{safe}"
    (into / "documents" / name).write_bytes(data)
    return document(ref, data, url=f"documents/{name}")


def _json(data: Any, default: Any = None) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=default)


def _title(talk: Conversation) -> str:
    names = ", ".join(p.name for p in talk.members)
    return f"{names} — {talk.reason}" if talk.reason else names


def _index(talks: list[Conversation], done: Exported) -> str:
    rows = "".join(
        f'<li><a href="conversations/{t.id}.html">{html.escape(_title(t))}</a> '
        f"({len(t.messages)} messages)</li>"
        for t in talks
    )
    lost = (
        f"<p>{len(done.unreadable)} message(s) illisible(s) sur cet appareil / "
        f"unreadable on this device.</p>"
        if done.unreadable
        else ""
    )
    return _html(
        "Vos conversations carehub / Your carehub conversations",
        f"<p>Exporté et déchiffré sur votre appareil. Exported and decrypted on your device.</p>"
        f"{lost}<ul>{rows}</ul>"
        '<p><a href="fhir.json">FHIR (Bundle)</a> · <a href="conversations.json">JSON</a></p>',
    )


def _page(talk: Conversation) -> str:
    names = {p.id: p.name for p in talk.members}
    items = "".join(_message_html(m, names) for m in talk.messages)
    return _html(_title(talk), f'<p><a href="../index.html">←</a></p><ol>{items}</ol>')


def _message_html(message: ReadMessage, names: dict[int, str]) -> str:
    when = datetime.fromtimestamp(message.sent_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    who = html.escape(names.get(message.sender, f"n° {message.sender}"))
    text = html.escape(message.text).replace("\n", "<br>")
    links = "".join(
        f'<li><a href="../{html.escape(d.url)}" download>{html.escape(d.name)}</a>'
        f" ({d.size} o)</li>"
        for d in message.documents
    )
    return f"<li><p><b>{who}</b> · {when}</p><p>{text}</p><ul>{links}</ul></li>"


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )

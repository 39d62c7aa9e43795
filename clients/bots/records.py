"""The records device: files each conversation of the practitioners who
delegate ``read`` to it into the patient's record, as FHIR R4
(``docs/records.md``).

The server cannot do it: it never reads a message. This device can, as a
delegate every sender seals for. For each thread it reads what it has not
filed yet, builds a ``transaction`` Bundle (``clients.fhir``), hands it to
each target (the practice's FHIR server, a folder), and only then tells the
server with ``records.filed``: a ``filed`` line in the thread's audit trail,
and the position it starts from next time. A crash between the two files
the same messages again, which changes nothing: every entry is created or
updated by its identifier.

Set-up: an admin creates the device's account (``carehub user NAME --role
bot``), a practitioner adds it to their practice and delegates ``read`` to
it. Then::

    python -m clients.bots.records --server http://127.0.0.1:8000 \\
        --username dossier --keystore dossier.keys --password-stdin \\
        --fhir https://fhir.cabinet.example/r4 --fhir-token-file token

or ``--folder DIR`` for a Bundle file per filing (both may be given).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from clients.bots.bot import bot_arguments, signed_in
from clients.client import UNREADABLE
from clients.e2e import Secure
from clients.errors import AuthError, CarehubError, Disconnected, E2EError
from clients.fhir import (
    Conversation,
    ReadDocument,
    ReadMessage,
    conversation_resources,
    transaction,
)
from clients.reading import document, history, members, people, read_message, sealed, subject
from protocol.e2e import DocumentRef
from protocol.model import Empty, MessageData, ThreadInfo
from protocol.records import FiledParams, FilingsParams

__all__ = ["FhirServer", "Filed", "Folder", "NotFiled", "RecordsDevice", "Target", "TargetRefused"]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"


class NotFiled(CarehubError):
    """Threads that could not be filed (the others were): nothing of theirs
    is recorded as filed, and the same messages are filed again next time."""


class TargetRefused(NotFiled):
    """A target did not take a filing."""


class Target(Protocol):
    name: str  # how the audit trail names it ("fhir", "folder")

    async def file(self, bundle: dict[str, Any], label: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Filed:
    thread: int
    through: int  # the last thread_seq filed
    messages: int
    documents: int
    sealed: int  # messages sent before the device could read them: filed as such


class FhirServer:
    """A FHIR server's REST API: each filing is one transaction
    (``POST [base]``), which the server applies whole or not at all."""

    name = "fhir"

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"accept": FHIR_JSON, "content-type": FHIR_JSON}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)

    async def file(self, bundle: dict[str, Any], label: str) -> None:
        try:
            response = await self.http.post("", content=json.dumps(bundle).encode())
        except httpx.HTTPError as error:
            raise TargetRefused(f"{label}: the FHIR server did not answer ({error})") from error
        if response.status_code != 200:
            raise TargetRefused(f"{label}: {response.status_code} {_outcome(response)}")
        _check_response(response.json(), len(bundle["entry"]), label)

    async def close(self) -> None:
        await self.http.aclose()


def _outcome(response: httpx.Response) -> str:
    """What an ``OperationOutcome`` says went wrong, else the start of the body."""
    try:
        issues = response.json().get("issue", [])
        return "; ".join(i.get("diagnostics") or i.get("code", "") for i in issues)[:500]
    except (ValueError, AttributeError):
        return response.text[:200]


def _check_response(answer: Any, entries: int, label: str) -> None:
    """A transaction-response with one successful entry per entry sent."""
    if not isinstance(answer, dict) or answer.get("type") != "transaction-response":
        raise TargetRefused(f"{label}: the FHIR server did not answer with a transaction-response")
    statuses = [str(e.get("response", {}).get("status", "")) for e in answer.get("entry", [])]
    if len(statuses) != entries or not all(s[:1] == "2" for s in statuses):
        raise TargetRefused(f"{label}: entries not all filed ({', '.join(statuses)})")


class Folder:
    """Each filing a Bundle file in a folder, for a practice's software that
    imports files; written whole (a temporary name, then renamed)."""

    name = "folder"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    async def file(self, bundle: dict[str, Any], label: str) -> None:
        final = self.path / f"{label}.json"
        partial = final.with_suffix(".part")
        partial.write_bytes(json.dumps(bundle, ensure_ascii=False, indent=1).encode())
        os.replace(partial, final)


class RecordsDevice:
    def __init__(self, secure: Secure, targets: Sequence[Target]) -> None:
        if not targets:
            raise ValueError("a records device needs somewhere to file")
        self.secure = secure
        self.targets = targets
        self.filed: dict[int, int] = {}  # thread -> last thread_seq filed
        self._spoken: dict[int, tuple[int, int]] = {}  # thread -> first, last message filed
        self._pending: set[int] = set()  # threads with messages not filed yet
        self._everything = False  # a delegation changed: look at every thread again
        self._wake = asyncio.Event()

    async def catch_up(self) -> list[Filed]:
        """File what every thread this device reads has that is not filed
        yet; ``NotFiled`` at the end, naming those that failed, if some did
        (the others are filed all the same)."""
        self.filed = await self._filings()
        threads = (await self.secure.call("threads.list", Empty())).threads
        behind = [t for t in threads if t.last_seq > self.filed.get(t.id, 0)]
        done, failed = await self._file_each(sorted(behind, key=lambda t: t.id))
        if failed:
            raise NotFiled("; ".join(failed))
        return done

    async def _file_each(self, threads: list[ThreadInfo]) -> tuple[list[Filed], list[str]]:
        """File each thread; one that fails (a target refusing, a document
        gone, a resource its model refuses) does not stop the others. A
        lost connection does: the whole round is tried again."""
        done, failed = [], []
        for thread in threads:
            try:
                filed = await self.file(thread)
            except (Disconnected, AuthError):
                raise
            except Exception as error:  # this thread's alone, logged with its cause
                log.exception("records device could not file thread %d", thread.id)
                failed.append(f"thread {thread.id}: {error}")
                continue
            if filed is not None:
                done.append(filed)
        return done, failed

    async def file(self, thread: ThreadInfo) -> Filed | None:
        """File the thread's messages past what was filed; None if there are none."""
        after = self.filed.get(thread.id, 0)
        new, earlier = await self._unfiled(thread.id, after)
        if not new:
            return None
        talk = await self._conversation(thread, new, earlier)
        bundle = transaction(conversation_resources(talk))
        through = new[-1].thread_seq
        label = f"thread-{thread.id}-{through}"
        for target in self.targets:
            await target.file(bundle, label)
        filed = _counted(thread.id, through, talk.messages)
        await self.secure.call("records.filed", self._params(filed, bundle))
        self.filed[thread.id] = through
        spoken = [*earlier, *(m.id for m in new if m.sender_device is not None)]
        if spoken:
            self._spoken[thread.id] = (spoken[0], spoken[-1])
        return filed

    async def _unfiled(self, thread: int, after: int) -> tuple[list[MessageData], list[int]]:
        """The thread's messages past ``after``, and the first and last of
        those filed before, which the new ones refer to. Only what is new is
        read, once this device knows the earlier two (all of it the first
        time after a restart)."""
        known = self._spoken.get(thread)
        fetched = await history(self.secure, thread, after if known or not after else 0)
        new = [m for m in fetched if m.thread_seq > after]
        if known:
            return new, list(known)
        before = [m.id for m in fetched if m.thread_seq <= after and m.sender_device is not None]
        return new, before[:1] + before[-1:]

    async def run(self, state: Path | None = None) -> None:
        """Catch up, then file each thread as its messages arrive, until the
        connection ends for good; ``state``: where the device's keystore is kept.
        The catching up is the filer's first round: a thread that cannot be
        filed at start-up waits like any other, it does not stop the device."""
        self._everything = True
        self._wake.set()
        filer = asyncio.create_task(self._file_pending(state))
        try:
            async for event in self.secure.client.events():
                if event.type == "message.new":
                    self._pending.add(event.data.thread)
                elif event.type in ("delegation.updated", UNREADABLE):
                    self._everything = True  # another practitioner's threads, or one unknown
                self._wake.set()
        finally:
            filer.cancel()

    async def _file_pending(self, state: Path | None) -> None:
        """File the threads that got messages; those that arrive meanwhile
        wait for the next round (one filing per thread, however many came).
        A round that fails (the server gone a moment) leaves its threads for
        the next one; a thread that failed alone waits for its next message."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            everything, waiting = self._everything, self._pending
            self._everything, self._pending = False, set()
            try:
                await self._round(everything, waiting)
            except Exception:  # the task must outlive any round: logged, tried again
                log.exception("records device: a round failed; its threads wait for the next")
                self._everything |= everything
                self._pending |= waiting
            if state is not None:
                self.secure.keys.save(state)

    async def _round(self, everything: bool, waiting: set[int]) -> None:
        if everything:
            with contextlib.suppress(NotFiled):  # each failure is logged; it waits for a message
                await self.catch_up()
            return
        threads = (await self.secure.call("threads.list", Empty())).threads
        await self._file_each(sorted((t for t in threads if t.id in waiting), key=lambda t: t.id))

    async def _filings(self) -> dict[int, int]:
        filed: dict[int, int] = {}
        after, more = 0, True
        while more:
            page = await self.secure.call("records.filings", FilingsParams(after))
            filed.update((f.thread, f.through) for f in page.filings)
            after, more = (page.filings[-1].thread if page.filings else after), page.has_more
        return filed

    async def _conversation(
        self, thread: ThreadInfo, new: list[MessageData], earlier: list[int]
    ) -> Conversation:
        read = [await self._read(m) for m in new]
        present = members(thread)
        known = {p.id for p in present}
        former = await people(self.secure, {m.sender for m in read if not m.notice} - known)
        about = subject(thread, present, {})
        if about is not None and not about.name:  # a relative: named as users.get shows them
            about = (await people(self.secure, [about.id]))[0]
        return Conversation(thread.id, thread.reason, present, about, read, former, earlier)

    async def _read(self, message: MessageData) -> ReadMessage:
        try:
            return await read_message(self.secure, message, _carried)
        except E2EError:  # sent before this device was delegated to: filed as unreadable
            return sealed(message)

    def _params(self, filed: Filed, bundle: dict[str, Any]) -> FiledParams:
        canonical = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
        where = "+".join(target.name for target in self.targets)
        return FiledParams(
            filed.thread,
            filed.through,
            filed.messages,
            filed.documents,
            where,
            hashlib.sha256(canonical).digest(),
        )


def _carried(message: int, n: int, ref: DocumentRef, data: bytes) -> ReadDocument:
    del message, n  # named by its message in the bundle
    return document(ref, data, inline=True)


def _counted(thread: int, through: int, read: Sequence[ReadMessage]) -> Filed:
    spoken = [m for m in read if not m.notice]
    return Filed(
        thread,
        through,
        messages=len(spoken),
        documents=sum(len(m.documents) for m in spoken),
        sealed=sum(m.sealed for m in spoken),
    )


async def serve(
    server: str, username: str, password: str, keystore: Path, targets: Sequence[Target]
) -> None:
    async with signed_in(server, username, password, keystore, "records device") as secure:
        device = RecordsDevice(secure, targets)
        print("ready", flush=True)
        await device.run(state=keystore)


def main(argv: list[str] | None = None) -> None:
    parser = bot_arguments("clients.bots.records", __doc__)
    parser.add_argument("--fhir", help="the FHIR server's base URL")
    parser.add_argument("--fhir-token-file", type=Path, help="a bearer token for it")
    parser.add_argument("--folder", type=Path, help="a folder for a Bundle file per filing")
    args = parser.parse_args(argv)
    targets: list[Target] = []
    if args.folder:  # the local copy first: a FHIR server that refuses leaves it, harmless
        targets.append(Folder(args.folder))
    if args.fhir:
        token = args.fhir_token_file.read_text().strip() if args.fhir_token_file else None
        targets.append(FhirServer(args.fhir, token))
    if not targets:
        parser.error("give --fhir, --folder or both")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    password = sys.stdin.readline().rstrip("\n")
    asyncio.run(serve(args.server, args.username, password, args.keystore, targets))


if __name__ == "__main__":
    main()

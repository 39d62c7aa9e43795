"""Sends beside each other (``storage.messages.SendsTogether``): stored in
one statement once each operation has asked or finished, whatever fails
or is cancelled, never twice and never left waiting. The statement itself
is stubbed here; ``tests/integration/test_send_state.py`` runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import storage.messages
from storage.messages import SendsTogether


class _Connection:
    """Stands for the transaction's connection (held while they run)."""


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The sends of each statement run, by client_msg_id."""
    ran: list[list[str]] = []

    async def number_and_insert(_: Any, sends: Sequence[Mapping[str, Any]]) -> list[tuple[Any]]:
        await asyncio.sleep(0)
        ran.append([send["new_client_msg_id"] for send in sends])
        if "bad" in ran[-1]:
            raise ValueError("the statement failed")
        return [(send["new_client_msg_id"],) for send in sends]

    monkeypatch.setattr(storage.messages, "_number_and_insert", number_and_insert)
    return ran


def _send(msg_id: str) -> dict[str, Any]:
    return {"new_client_msg_id": msg_id}


async def test_every_send_is_stored_in_one_statement_once_the_last_has_asked(
    statements: list[list[str]],
) -> None:
    together = SendsTogether(_Connection(), 3)  # type: ignore[arg-type]

    async def refused() -> None:
        await asyncio.sleep(0)
        raise LookupError("refused before its message")

    stored = await asyncio.gather(
        together.run(together.store(_send("a"))),
        together.run(refused()),
        together.run(together.store(_send("b"))),
        return_exceptions=True,
    )
    assert stored[0] == ("a",) and isinstance(stored[1], LookupError) and stored[2] == ("b",)
    assert statements == [["a", "b"]]


async def test_a_failed_statement_fails_each_send(statements: list[list[str]]) -> None:
    together = SendsTogether(_Connection(), 2)  # type: ignore[arg-type]
    failed = await asyncio.gather(
        together.run(together.store(_send("a"))),
        together.run(together.store(_send("bad"))),
        return_exceptions=True,
    )
    assert [str(error) for error in failed] == ["the statement failed"] * 2
    assert statements == [["a", "bad"]]


async def test_cancelled_they_store_nothing_and_end(statements: list[list[str]]) -> None:
    together = SendsTogether(_Connection(), 2)  # type: ignore[arg-type]
    started, never = asyncio.Event(), asyncio.Event()

    async def other() -> None:
        started.set()  # "a", which ran first, asked and waits for this one
        await never.wait()

    running = asyncio.gather(together.run(together.store(_send("a"))), together.run(other()))
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert statements == []

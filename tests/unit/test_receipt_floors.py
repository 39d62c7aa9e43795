"""Receipt floors: what a node knows is stored, never above the truth."""

from __future__ import annotations

from server.directory import Directory
from storage.threads import Receipt


def directory() -> Directory:
    return Directory(None, None, None, None, None)  # type: ignore[arg-type]  # floors never read the store


def test_an_unknown_receipt_has_a_zero_floor() -> None:
    assert directory().receipt_floor(1, 2) == Receipt(0, 0)


def test_floors_only_rise_each_part_on_its_own() -> None:
    floors = directory()
    floors.raise_receipt_floor(1, 2, Receipt(5, 3))
    floors.raise_receipt_floor(1, 2, Receipt(4, 4))  # a late, lower delivered receipt
    assert floors.receipt_floor(1, 2) == Receipt(5, 4)
    assert floors.receipt_floor(1, 3) == Receipt(0, 0)  # another member
    assert floors.receipt_floor(2, 2) == Receipt(0, 0)  # another thread


def test_a_thread_change_forgets_its_floors() -> None:
    floors = directory()
    floors.raise_receipt_floor(1, 2, Receipt(5, 5))
    floors.raise_receipt_floor(9, 2, Receipt(7, 7))
    floors.invalidate(1, [2])  # e.g. the member left and may come back from zero
    assert floors.receipt_floor(1, 2) == Receipt(0, 0)
    assert floors.receipt_floor(9, 2) == Receipt(7, 7)

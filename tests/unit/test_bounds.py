"""Every integer a client can send is bounded at the edge, inside what both a
SQL BIGINT and a JavaScript number hold exactly: an id of 2**63 is ``invalid``,
never an overflow in a database driver. And no text holds a NUL character,
which PostgreSQL cannot store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from protocol.codec import decode_as
from protocol.errors import DecodeError
from protocol.frames import ClientFrame
from protocol.http import LoginBody, RegisterBody
from protocol.methods import METHODS, HistoryParams
from protocol.model import MAX_INT
from protocol.schema import PAYLOADS

CLIENT_TYPES: dict[str, Any] = {
    "frame": ClientFrame,
    # What the server reads inside a client's bytes: the envelope header, device lists.
    **{
        name: PAYLOADS[name] for name in ("envelope", "header", "signed_device_list", "device_list")
    },
    "http.login": LoginBody,
    "http.register": RegisterBody,
    **{name: spec.params for name, spec in METHODS.items()},
}


def leaves(node: mi.Type, path: str, seen: set[type]) -> Iterator[tuple[str, mi.Type]]:
    """Every scalar in a type, with where it sits."""
    if isinstance(node, mi.IntType | mi.StrType):
        yield path, node
    elif isinstance(node, mi.StructType | mi.DataclassType):
        if node.cls not in seen:
            seen.add(node.cls)
            for field in node.fields:
                yield from leaves(field.type, f"{path}.{field.name}", seen)
    elif isinstance(node, mi.UnionType):
        for member in node.types:
            yield from leaves(member, path, seen)
    elif isinstance(node, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        yield from leaves(node.item_type, f"{path}[]", seen)
    elif isinstance(node, mi.DictType):
        yield from leaves(node.key_type, f"{path}{{key}}", seen)
        yield from leaves(node.value_type, f"{path}{{value}}", seen)


def unbounded(node: mi.IntType) -> bool:
    high = node.le if node.le is not None else None if node.lt is None else node.lt - 1
    low = node.ge if node.ge is not None else None if node.gt is None else node.gt + 1
    return high is None or low is None or high > MAX_INT or low < -MAX_INT


def takes_nul(node: mi.StrType) -> bool:
    return node.pattern is None or re.search(node.pattern, "a\x00b") is not None


@pytest.mark.parametrize("name", CLIENT_TYPES)
def test_every_integer_a_client_sends_is_bounded(name: str) -> None:
    found = leaves(mi.type_info(CLIENT_TYPES[name]), name, set())
    assert [p for p, node in found if isinstance(node, mi.IntType) and unbounded(node)] == []


@pytest.mark.parametrize("name", CLIENT_TYPES)
def test_no_text_a_client_sends_holds_a_nul(name: str) -> None:
    found = leaves(mi.type_info(CLIENT_TYPES[name]), name, set())
    assert [p for p, node in found if isinstance(node, mi.StrType) and takes_nul(node)] == []


def test_the_walk_sees_nested_fields() -> None:
    paths = {path for path, _ in leaves(mi.type_info(METHODS["rules.add"].params), "r", set())}
    assert {"r.exempt[]", "r.weekly[].day", "r.redirect_to", "r.weekly[].start"} <= paths


@pytest.mark.parametrize("value", [2**53, 2**63, 2**64 - 1, -1, 0])
def test_an_id_out_of_range_is_a_decode_error(value: int) -> None:
    with pytest.raises(DecodeError):
        decode_as(HistoryParams, msgspec.msgpack.encode({"thread": value}))

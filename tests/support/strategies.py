"""Hypothesis strategies built from the protocol's own types.

``values(tp, pools)`` walks ``msgspec.inspect.type_info(tp)`` and maps every
node (ints with their bounds, strings with their lengths and patterns,
bytes, lists, dicts, structs with required and optional fields, unions,
enums, literals, ...) to MessagePack-ready values, half of them valid:

- valid ones, boundaries included (``ge`` and ``le`` exactly, the longest
  string and list, 2**63 where the type allows it), and the ``pools``
  values named after the field: real ids, so that handlers run past
  validation;
- valid ones but for one hostile spot somewhere inside: an integer past its
  bounds or at 2**53, 2**63, 2**64 - 1, -2**63, a wrong type, a string far
  too long, an impossible date, a path for a time zone;
- broken structs: a required field missing, unknown fields (some nested a
  few thousand levels deep), keys that are not strings, a list for a map.

``edge_cases(tp, pools)`` lists one plain valid value with each leaf set in
turn to each of its edge values, for a sweep that leaves nothing to chance.
``encode`` writes any of these as MessagePack; ``mutated`` flips, cuts and
splices the bytes of frames."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import msgspec
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from msgspec import inspect as mi

__all__ = [
    "CLOCK_EDGES",
    "DATE_EDGES",
    "INT_EDGES",
    "TIME_ZONES",
    "Nested",
    "Pools",
    "Repeated",
    "edge_cases",
    "encode",
    "mutated",
    "valid_values",
    "values",
]

Pools = Mapping[str, Sequence[Any]]
Values = SearchStrategy[Any]

INT_EDGES: tuple[int, ...] = (0, 1, -1, 2**31, 2**32, 2**53 - 1, 2**53, 2**53 + 1)
INT_EDGES += (2**63 - 1, 2**63, 2**64 - 1, -(2**31), -(2**53), -(2**63))
MSGPACK_INTS = (-(2**63), 2**64 - 1)  # what MessagePack can carry as an integer at all
DATE_EDGES = (
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "1969-12-31",
    "1970-01-01",
    "2199-12-31",
    "2200-01-01",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "2024-13-01",
    "2024-00-10",
)
CLOCK_EDGES = ("00:00", "23:59", "24:00", "24:01", "25:00", "12:60", "9:00", "-1:00")
TIME_ZONES = (
    "Europe/Paris",
    "UTC",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Etc/GMT-14",
    "Europe",
    "../etc/passwd",
    "Europe/Paris\x00",
    "/etc/localtime",
    "Europe/../../../etc/passwd",
    "europe/paris",
    "Europe/Paris ",
    "zone.tab",
    "Factory",
    ".",
)
HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "../../etc/passwd",
    "%s%n%x",
    "' OR '1'='1' --",
    "\u202egnp.exe",
    "e\u0301" * 30,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 10,
    "\ud7ff\ue000\uffff",
    "null",
    "NaN",
)
WRONG_TYPES: tuple[Any, ...] = (None, True, 0, -1, 1.5, float("nan"), "1", b"\x01", [], {})
LONG = 100_000  # characters: past any length limit and past the frame limit too


class Opaque:
    """A value with a short ``repr`` (Hypothesis prints it) that turns into
    something bulky on the wire."""

    def wire(self) -> Any:
        raise NotImplementedError


class Nested(Opaque):
    """``depth`` arrays (or maps) inside one another, MessagePack written by
    hand: an encoder would refuse to recurse this deep."""

    def __init__(self, depth: int, kind: str = "list") -> None:
        self.depth, self.kind = depth, kind

    def __repr__(self) -> str:
        return f"Nested({self.depth}, {self.kind!r})"

    def wire(self) -> msgspec.Raw:
        level = b"\x91" if self.kind == "list" else b"\x81\xa1k"
        return msgspec.Raw(level * self.depth + b"\xc0")


class Repeated(Opaque):
    """``text`` repeated ``count`` times."""

    def __init__(self, text: str, count: int) -> None:
        self.text, self.count = text, count

    def __repr__(self) -> str:
        return f"{self.text!r} * {self.count}"

    def wire(self) -> str:
        return self.text * self.count


def _wire(obj: Any) -> Any:
    if isinstance(obj, Opaque):
        return obj.wire()
    raise NotImplementedError(type(obj).__name__)


_encoder = msgspec.msgpack.Encoder(enc_hook=_wire)


def encode(value: Any) -> bytes:
    """MessagePack of ``value``, with its ``Opaque`` parts written out."""
    return _encoder.encode(value)


def values(tp: Any, pools: Pools | None = None) -> Values:
    """Valid, fuzzed and broken MessagePack-ready values for the type ``tp``."""
    walker = _Walker(pools or {})
    node = mi.type_info(tp)
    return st.one_of(walker.valid(node), walker.fuzzed(node))


def valid_values(tp: Any, pools: Pools | None = None) -> Values:
    """Valid values only (boundaries and pooled values included)."""
    return _Walker(pools or {}).valid(mi.type_info(tp))


def mutated(frames: SearchStrategy[bytes]) -> SearchStrategy[bytes]:
    """``frames`` with a few bits flipped, bytes cut, inserted or dropped."""
    edit = st.tuples(st.sampled_from(_EDITS), st.integers(0, 2**16), st.integers(0, 255))
    return st.tuples(frames, st.lists(edit, min_size=1, max_size=4)).map(_apply_edits)


def _flip(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([data[at] ^ (1 << value % 8)]) + data[at + 1 :]


def _cut(data: bytes, at: int, value: int) -> bytes:
    return data[:at]


def _insert(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([value]) + data[at:]


def _drop(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + data[at + 1 :]


_EDITS: tuple[Callable[[bytes, int, int], bytes], ...] = (_flip, _cut, _insert, _drop)


def _apply_edits(drawn: tuple[bytes, list[tuple[Callable[..., bytes], int, int]]]) -> bytes:
    data, edits = drawn
    for edit, at, value in edits:
        if data:
            data = edit(data, at % len(data), value)
    return data


# --- the walk ------------------------------------------------------------------


class _Walker:
    """Strategies for one node of ``msgspec.inspect``'s description of a type.

    ``name`` is the field the node sits in ("" at the top), the key into
    ``pools`` (``"Struct.field"`` first, then ``"field"``)."""

    def __init__(self, pools: Pools) -> None:
        self.pools = pools

    # Valid values.

    def valid(self, node: mi.Type, name: str = "") -> Values:
        pooled: Sequence[Any] = self.pools.get(name, ())
        match node:
            case mi.StructType():
                base = self._struct(node)
                pooled = self.pools.get(node.cls.__name__, ())
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                return self._list(node, name)  # the items draw from the pool
            case mi.UnionType():
                base = st.one_of([self.valid(t) for t in node.types])
            case _:
                base = self._leaf(node)
        return st.one_of(st.sampled_from(pooled), base) if pooled else base

    def _leaf(self, node: mi.Type) -> Values:
        match node:
            case mi.IntType():
                return _ints(node)
            case mi.StrType():
                return _text(node)
            case mi.BytesType() | mi.ByteArrayType():
                return _binary(node)
            case mi.BoolType():
                return st.booleans()
            case mi.NoneType():
                return st.none()
            case mi.FloatType():
                return st.floats(allow_nan=False, allow_infinity=False)
            case mi.EnumType():
                return st.sampled_from([member.value for member in node.cls])
            case mi.LiteralType():
                return st.sampled_from(node.values)
            case mi.DictType():
                return st.dictionaries(
                    self.valid(node.key_type), self.valid(node.value_type), max_size=3
                )
            case _:  # Raw, Any and the rest: any MessagePack value
                return _anything()

    def _list(self, node: Any, name: str) -> Values:
        low, high = node.min_length or 0, node.max_length
        item = self.valid(node.item_type, name)
        lists = st.lists(item, min_size=low, max_size=min(high or 4, max(low, 4)))
        if high is None or high <= 4:
            return lists
        return st.one_of(lists, item.map(lambda v: [v] * high))  # the longest list allowed

    def _struct(self, node: mi.StructType) -> Values:
        return self._struct_with(node, {})

    def _struct_with(self, node: mi.StructType, bad: Mapping[str, Values]) -> Values:
        """A valid struct, except the fields in ``bad`` (always present)."""
        fields = {
            f.encode_name: bad[f.name] if f.name in bad else self._field(node, f)
            for f in node.fields
        }
        if node.array_like:
            return st.tuples(*fields.values()).map(list)
        required = {f.encode_name for f in node.fields if f.required or f.name in bad}
        mapping = st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
        tag_field, tag = node.tag_field, node.tag
        if tag_field is None:
            return mapping
        return mapping.map(lambda fields: {tag_field: tag, **fields})

    def _field(self, node: mi.StructType, field: mi.Field) -> Values:
        qualified = f"{node.cls.__name__}.{field.name}"
        name = qualified if qualified in self.pools else field.name
        return self.valid(field.type, name)

    # One hostile spot.

    def fuzzed(self, node: mi.Type, name: str = "") -> Values:
        match node:
            case mi.StructType():
                return st.one_of(self._struct_one_bad(node), self._broken_struct(node))
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                return st.one_of(self._list_one_bad(node, name), _hostile_list(node))
            case mi.UnionType():
                return st.one_of([self.fuzzed(t, name) for t in node.types])
            case _:
                return _hostile_leaf(node)

    def _struct_one_bad(self, node: mi.StructType) -> Values:
        if not node.fields:
            return self._broken_struct(node)
        return st.one_of(
            [self._struct_with(node, {f.name: self.fuzzed(f.type, f.name)}) for f in node.fields]
        )

    def _list_one_bad(self, node: Any, name: str) -> Values:
        valid = st.lists(self.valid(node.item_type, name), max_size=3)
        bad = self.fuzzed(node.item_type, name)
        return st.tuples(valid, bad).map(lambda drawn: [*drawn[0], drawn[1]])

    def _broken_struct(self, node: mi.StructType) -> Values:
        valid = self._struct(node)
        known = {f.encode_name for f in node.fields} | {node.tag_field}
        extra_key = st.text(min_size=1, max_size=12).filter(lambda k: k not in known)
        extras = st.dictionaries(extra_key, _junk(), min_size=1, max_size=3)
        broken = [
            st.sampled_from(WRONG_TYPES),
            st.tuples(valid, extras).map(_merge),
            valid.map(lambda v: {**v, 0: 1, None: b"", b"k": "v"} if isinstance(v, dict) else v),
        ]
        required = [f.encode_name for f in node.fields if f.required]
        if required and not node.array_like:
            broken.append(st.tuples(valid, st.sampled_from(required)).map(_without))
        if node.array_like:
            broken.append(valid.map(lambda v: dict(enumerate(v))))
            broken.append(st.tuples(valid, _junk()).map(lambda d: [*d[0], d[1]]))
            broken.append(valid.map(lambda v: v[:-1]))
        return st.one_of(broken)


# --- leaves ----------------------------------------------------------------------


def _bounds(node: mi.IntType) -> tuple[int, int]:
    low = node.ge if node.ge is not None else (node.gt + 1 if node.gt is not None else None)
    high = node.le if node.le is not None else (node.lt - 1 if node.lt is not None else None)
    return (MSGPACK_INTS[0] if low is None else low), (MSGPACK_INTS[1] if high is None else high)


def _ints(node: mi.IntType) -> Values:
    low, high = _bounds(node)
    edges = {low, low + 1, high - 1, high, *INT_EDGES}
    inside = sorted(e for e in edges if low <= e <= high)
    return st.one_of(st.sampled_from(inside), st.integers(low, high))


def _hostile_int(node: mi.IntType) -> Values:
    low, high = _bounds(node)
    outside = sorted(
        e
        for e in {low - 1, high + 1, *INT_EDGES, *MSGPACK_INTS}
        if MSGPACK_INTS[0] <= e <= MSGPACK_INTS[1]
    )
    beyond = (2.0**64, -(2.0**63) * 2, 1e300, float("inf"))  # no MessagePack int holds these
    return st.sampled_from([*outside, *beyond, *WRONG_TYPES])


@cache
def _alphabet(pattern: str) -> str | None:
    """The characters of a ``^[...]+$`` pattern, if it is one."""
    match = re.fullmatch(r"\^(\[[^\]]+\])\+\$", pattern)
    if match is None:
        return None
    return "".join(c for c in map(chr, range(32, 127)) if re.fullmatch(match[1], c))


def _text(node: mi.StrType) -> Values:
    low, high = node.min_length or 0, node.max_length
    if node.pattern is not None:
        return _patterned(node.pattern, low, high)
    text = st.text(min_size=low, max_size=min(high or 40, max(low, 40)))
    edges = [st.just("x" * low), *([st.just("é" * high)] if high else [])]
    return st.one_of(text, *edges)


def _patterned(pattern: str, low: int, high: int | None) -> Values:
    """Strings that ``re.search(pattern)`` accepts, as msgspec checks them:
    Unicode digits for ``\\d`` and a newline before a final ``$`` included."""

    def fits(text: str) -> bool:
        return low <= len(text) <= (high or LONG)

    edges = [e for e in (*DATE_EDGES, *CLOCK_EDGES) if re.search(pattern, e) and fits(e)]
    matching = [st.sampled_from(edges)] if edges else []
    if low <= 1:  # from_regex picks its own lengths: a filter for long minimums would starve
        matching.append(st.from_regex(pattern, fullmatch=True).filter(fits))
    alphabet = _alphabet(pattern)
    if alphabet is not None:
        shortest = max(low, 1)  # long minimums (a key's 86 characters) are met, not capped
        size = {"min_size": shortest, "max_size": max(shortest, min(high or 40, 40))}
        matching.append(st.text(alphabet, **size))
        newline = st.text(alphabet, **size).map(lambda text: text[:-1] + "\n")
        matching.append(newline.filter(lambda text: fits(text) and re.search(pattern, text)))
    return st.one_of(matching)


def _hostile_text(node: mi.StrType) -> Values:
    low, high = node.min_length or 0, node.max_length
    sizes = {0, max(low - 1, 0), *([high + 1] if high is not None else [])}
    wrong_size = [Repeated("x", n) for n in sorted(sizes)] + [Repeated("é", LONG)]
    pattern_edges = [*DATE_EDGES, *CLOCK_EDGES] if node.pattern else []
    return st.sampled_from([*HOSTILE_TEXT, *pattern_edges, *TIME_ZONES, *wrong_size, *WRONG_TYPES])


def _binary(node: Any) -> Values:
    low, high = node.min_length or 0, node.max_length
    binary = st.binary(min_size=low, max_size=min(high or 64, max(low, 64)))
    return st.one_of(binary, st.just(b"\0" * high)) if high else binary


def _hostile_binary(node: Any) -> Values:
    low, high = node.min_length or 0, node.max_length
    sizes = {0, max(low - 1, 0), (high or LONG) + 1}
    return st.sampled_from([*(b"\xff" * n for n in sorted(sizes)), "text", *WRONG_TYPES])


def _hostile_leaf(node: mi.Type) -> Values:
    match node:
        case mi.IntType():
            return _hostile_int(node)
        case mi.StrType():
            return _hostile_text(node)
        case mi.BytesType() | mi.ByteArrayType():
            return _hostile_binary(node)
        case mi.EnumType() | mi.LiteralType():
            words = [m.value for m in node.cls] if isinstance(node, mi.EnumType) else node.values
            near = [w.upper() if isinstance(w, str) else -1 for w in words]
            return st.sampled_from([*near, *(f" {w}" for w in words), *HOSTILE_TEXT, *WRONG_TYPES])
        case mi.FloatType():
            return st.sampled_from([float("nan"), float("inf"), -0.0, 1e308, *WRONG_TYPES])
        case _:
            return st.one_of(st.sampled_from(WRONG_TYPES), _junk())


def _hostile_list(node: Any) -> Values:
    low, high = node.min_length or 0, node.max_length
    sizes = {max(low - 1, 0), 0, (high or 10_000) + 1}
    too_many = [[1] * n for n in sorted(sizes)]
    return st.one_of(st.sampled_from([*too_many, *WRONG_TYPES, "x"]), _junk().map(lambda j: [j]))


def _anything() -> Values:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(*MSGPACK_INTS),
        st.floats(),
        st.text(max_size=20),
        st.binary(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )


def _junk() -> Values:
    """What an unknown field may hold: anything, nested thousands of levels
    deep, or very long."""
    deep = st.builds(Nested, st.integers(1_000, 5_000), st.sampled_from(["list", "map"]))
    return st.one_of(_anything(), deep, st.just(Repeated("x", 50_000)))


def _merge(drawn: tuple[Any, dict[str, Any]]) -> Any:
    valid, extras = drawn
    return {**valid, **extras} if isinstance(valid, dict) else valid


def _without(drawn: tuple[Any, str]) -> Any:
    valid, key = drawn
    return {k: v for k, v in valid.items() if k != key} if isinstance(valid, dict) else valid


# --- edge cases ------------------------------------------------------------------

SANE = ("2030-01-15", "09:00")  # what a date or clock pattern gets when any will do


def edge_cases(tp: Any, pools: Pools | None = None) -> list[Any]:
    """One plain valid value of ``tp`` with, in turn, each leaf set to each of
    its edge values: the bounds and just past them, 2**53, 2**63, 2**64 - 1,
    -2**63, the pool's values, impossible dates, hostile strings. Random
    draws may take long to combine one rare value with a role and a field;
    this walk tries every one."""
    edges = _Edges(pools or {})
    node = mi.type_info(tp)
    unique = {encode(case): case for case in edges.cases(node)}
    return list(unique.values())


class _Edges:
    def __init__(self, pools: Pools) -> None:
        self.pools = pools

    def base(self, node: mi.Type, name: str = "") -> Any:
        """A plain valid value: the pool's first, or the simplest allowed."""
        match node:
            case mi.StructType():
                return self._struct_base(node)
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                return [self.base(node.item_type, name)] * max(node.min_length or 0, 1)
            case mi.UnionType():
                members = [t for t in node.types if not isinstance(t, mi.NoneType)]
                return self.base(members[0], name) if members else None
        if self.pools.get(name):
            return self.pools[name][0]
        return _leaf_base(node)

    def _struct_base(self, node: mi.StructType) -> Any:
        pooled = self.pools.get(node.cls.__name__)
        if pooled:
            return pooled[0]
        fields = node.fields if node.array_like else [f for f in node.fields if f.required]
        value = {f.encode_name: self.base(f.type, self._name(node, f)) for f in fields}
        if node.array_like:
            return list(value.values())
        return value if node.tag_field is None else {node.tag_field: node.tag, **value}

    def _name(self, node: mi.StructType, field: mi.Field) -> str:
        qualified = f"{node.cls.__name__}.{field.name}"
        return qualified if qualified in self.pools else field.name

    def cases(self, node: mi.Type, name: str = "") -> list[Any]:
        """Values of ``node`` that differ from its base in one spot."""
        match node:
            case mi.StructType():
                return self._struct_cases(node)
            case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
                return [[case] for case in self.cases(node.item_type, name)]
            case mi.UnionType():
                return [case for t in node.types for case in self.cases(t, name)]
        return [*self.pools.get(name, ()), *_leaf_edges(node)]

    def _struct_cases(self, node: mi.StructType) -> list[Any]:
        base = self._struct_base(node)
        if not isinstance(base, dict | list):
            return []
        cases: list[Any] = []
        for at, field in enumerate(node.fields):
            for case in self.cases(field.type, self._name(node, field)):
                if isinstance(base, list):
                    cases.append([*base[:at], case, *base[at + 1 :]])
                else:
                    cases.append({**base, field.encode_name: case})
        return cases


def _leaf_base(node: mi.Type) -> Any:
    match node:
        case mi.IntType():
            low, high = _bounds(node)
            return min(max(low, 1), high)
        case mi.StrType():
            return _text_base(node)
        case mi.BytesType() | mi.ByteArrayType():
            return b"\0" * max(node.min_length or 0, 1)
        case mi.EnumType():
            return next(iter(node.cls)).value
        case mi.LiteralType():
            return node.values[0]
        case mi.BoolType():
            return False
        case mi.FloatType():
            return 0.0
        case mi.NoneType():
            return None
    return {}


def _text_base(node: mi.StrType) -> str:
    low = max(node.min_length or 0, 1)
    if node.pattern is None:
        return "x" * low
    sane = [s for s in SANE if re.search(node.pattern, s)]
    alphabet = _alphabet(node.pattern)
    return sane[0] if sane else (alphabet or "x")[0] * low


def _leaf_edges(node: mi.Type) -> list[Any]:
    match node:
        case mi.IntType():
            low, high = _bounds(node)
            near = {low - 1, low, low + 1, high - 1, high, high + 1, *INT_EDGES}
            return sorted(e for e in near if MSGPACK_INTS[0] <= e <= MSGPACK_INTS[1])
        case mi.StrType():
            return _text_edges(node)
        case mi.BytesType() | mi.ByteArrayType():
            longest = node.max_length
            return [b"", *([b"\0" * longest, b"\0" * (longest + 1)] if longest else [])]
        case mi.EnumType():
            return [m.value for m in node.cls]
        case mi.LiteralType():
            return list(node.values)
        case mi.BoolType():
            return [True, False]
        case mi.FloatType():
            return [float("nan"), float("inf"), -0.0]
        case mi.NoneType():
            return [None]
    return []


def _text_edges(node: mi.StrType) -> list[Any]:
    high = node.max_length
    edges: list[Any] = ["", "\x00", "a\x00b", "../../etc/passwd"]
    if high is not None:
        edges += [Repeated("é", high), Repeated("x", high + 1)]
    for family in (DATE_EDGES, CLOCK_EDGES):  # all of them, where any is the right shape
        if node.pattern is not None and any(re.search(node.pattern, e) for e in family):
            edges += family
    return edges

"""Version negotiation, close and error codes, and the published JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from protocol.codec import PROTOCOL_VERSIONS, negotiate
from protocol.errors import CloseCode, ErrorCode, ProtocolError, VersionMismatch, should_reconnect
from protocol.events import DURABLE_EVENTS, EVENTS
from protocol.methods import METHODS
from protocol.schema import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"


@pytest.mark.parametrize(
    ("offered", "supported", "expected"),
    [
        ([1], (1,), 1),
        ([1, 2, 3], (1, 2), 2),
        ([3, 1], (1, 2, 3), 3),
        ([2, 9], (1, 2, 3), 2),
        ((v for v in [1]), (1,), 1),
    ],
)
def test_negotiate_picks_the_highest_common_version(
    offered: Any, supported: tuple[int, ...], expected: int
) -> None:
    assert negotiate(offered, supported) == expected


def test_negotiate_defaults_to_our_versions() -> None:
    assert negotiate([0, *PROTOCOL_VERSIONS, 999]) == max(PROTOCOL_VERSIONS)


@pytest.mark.parametrize(("offered", "supported"), [([], (1,)), ([2], (1,)), ([1], ())])
def test_negotiate_without_common_version(offered: list[int], supported: tuple[int, ...]) -> None:
    with pytest.raises(VersionMismatch) as info:
        negotiate(offered, supported)
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    ("code", "reconnect"),
    [
        (CloseCode.NORMAL, False),
        (CloseCode.MESSAGE_TOO_BIG, False),
        (CloseCode.SLOW_CONSUMER, True),
        (CloseCode.HEARTBEAT_TIMEOUT, True),
        (CloseCode.SERVER_SHUTDOWN, True),
        (CloseCode.HELLO_TIMEOUT, True),
        (CloseCode.UNAUTHORIZED, False),
        (CloseCode.TOKEN_REVOKED, False),
        (CloseCode.UNSUPPORTED_VERSION, False),
        (CloseCode.BAD_HELLO, False),
        (1001, True),  # going away
        (1006, True),  # abnormal closure
        (1011, True),  # internal error
        (1012, True),  # service restart
        (1013, True),  # try again later
        (1014, True),  # bad gateway
        (1002, False),  # protocol error
        (1008, False),  # policy violation
        (4099, True),
        (4100, False),
        (4199, False),
        (3999, False),
    ],
)
def test_should_reconnect(code: int, reconnect: bool) -> None:
    assert should_reconnect(code) is reconnect


@pytest.mark.parametrize("code", [c for c in CloseCode if c >= 4000], ids=lambda c: c.name)
def test_application_close_codes_are_in_their_ranges(code: CloseCode) -> None:
    assert 4000 <= code < 4200


def test_close_codes_are_unique() -> None:
    assert len({int(c) for c in CloseCode}) == len(CloseCode)


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_error_codes_are_lowercase_words(code: ErrorCode) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code.value)
    assert code.value == code.name.lower()


def test_documented_error_codes_exist() -> None:
    documented = {"forbidden", "not_found", "invalid", "rate_limited", "conflict", "too_large"}
    assert documented <= {c.value for c in ErrorCode}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_schema_lists_every_method_and_event() -> None:
    schema = json_schema()
    assert set(schema["methods"]) == set(METHODS)
    assert set(schema["events"]) == set(EVENTS)
    for name, spec in METHODS.items():
        assert schema["methods"][name]["params"] == {"$ref": f"#/$defs/{spec.params.__name__}"}
        assert schema["methods"][name]["result"] == {"$ref": f"#/$defs/{spec.result.__name__}"}
    for name, data_type in EVENTS.items():
        assert schema["events"][name]["data"] == {"$ref": f"#/$defs/{data_type.__name__}"}
        assert schema["events"][name]["durable"] is (name in DURABLE_EVENTS)


def test_schema_is_json_with_resolvable_refs() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["versions"] == list(PROTOCOL_VERSIONS)
    refs = _refs(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in schema["$defs"]


def test_schema_frames_cover_both_directions() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    for frame in ("Hello", "Welcome", "Call", "Result", "Error", "Event", "Ping", "Pong"):
        assert frame in defs


def test_published_schema_is_current() -> None:
    if not SCHEMA_FILE.exists():
        pytest.skip(f"{SCHEMA_FILE} not generated yet")
    assert json.loads(SCHEMA_FILE.read_text()) == json.loads(json.dumps(json_schema()))

"""Settings: defaults < CAREHUB_* environment < overrides, validated at load."""

from __future__ import annotations

from typing import Any

import pytest

from server.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    assert Settings.load(env={}) == Settings()


@pytest.mark.parametrize(
    ("variable", "raw", "field", "value"),
    [
        ("CAREHUB_PORT", "9001", "port", 9001),
        ("CAREHUB_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("CAREHUB_DB", "postgresql+asyncpg://h/db", "db", "postgresql+asyncpg://h/db"),
        ("CAREHUB_CALLS_PER_SECOND", "2.5", "calls_per_second", 2.5),
        ("CAREHUB_CALLS_PER_SECOND", "3", "calls_per_second", 3.0),
        ("CAREHUB_SEND_QUEUE_BYTES", "1024", "send_queue_bytes", 1024),
        ("CAREHUB_MAX_BATCH", "1", "max_batch", 1),
    ],
)
def test_environment_sets_a_field(variable: str, raw: str, field: str, value: Any) -> None:
    settings = Settings.load(env={variable: raw})
    assert getattr(settings, field) == value
    assert type(getattr(settings, field)) is type(value)


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.load(env={"PORT": "1", "CAREHUB_NOPE": "x"}) == Settings()


def test_overrides_win_over_environment() -> None:
    env = {"CAREHUB_PORT": "9001", "CAREHUB_HOST": "10.0.0.1"}
    settings = Settings.load({"port": 9002, "host": None}, env=env)
    assert settings.port == 9002
    assert settings.host == "10.0.0.1"  # a None override leaves the value alone


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("CAREHUB_PORT", "eighty"),
        ("CAREHUB_PORT", ""),
        ("CAREHUB_PORT", "80.5"),
        ("CAREHUB_HEARTBEAT_SECONDS", "soon"),
        ("CAREHUB_MIGRATE", "maybe"),
        ("CAREHUB_OPEN_REGISTRATION", ""),
    ],
)
def test_bad_value_names_its_key(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.load(env={variable: raw})


def test_bad_environment_value_fails_even_when_overridden() -> None:
    with pytest.raises(SettingsError, match="CAREHUB_PORT"):
        Settings.load({"port": 80}, env={"CAREHUB_PORT": "x"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 0),
        ("port", -1),
        ("max_frame_bytes", 0),
        ("calls_per_second", 0.0),
        ("heartbeat_seconds", -0.5),
        ("send_queue_bytes", 0),
        ("max_batch", 0),
        ("token_ttl_seconds", -1),
    ],
)
def test_non_positive_values_are_refused(field: str, value: float) -> None:
    with pytest.raises(SettingsError, match=field):
        Settings.load({field: value}, env={})
    with pytest.raises(SettingsError, match=field):
        Settings.load(env={f"CAREHUB_{field.upper()}": str(value)})


@pytest.mark.parametrize("raw", ["nan", "inf", "-nan"])
def test_non_finite_values_are_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="heartbeat_seconds"):
        Settings.load(env={"CAREHUB_HEARTBEAT_SECONDS": raw})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_envelope_bytes": 1000, "max_frame_bytes": 1000}, "max_envelope_bytes"),
        ({"max_frame_bytes": 2_000_000, "ws_max_bytes": 1_000_000}, "max_frame_bytes"),
    ],
)
def test_limits_must_be_consistent(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.load(overrides, env={})


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("0", False),
        ("false", False),
        ("False", False),
        ("no", False),
    ],
)
def test_bool_parsing(raw: str, value: bool) -> None:
    assert Settings.load(env={"CAREHUB_MIGRATE": raw}).migrate is value
    assert Settings.load(env={"CAREHUB_OPEN_REGISTRATION": raw}).open_registration is value


def test_replace_validates() -> None:
    settings = Settings()
    assert settings.replace(port=1).port == 1
    with pytest.raises(SettingsError, match="port"):
        settings.replace(port=0)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_load_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREHUB_PORT", "8123")
    assert Settings.load().port == 8123

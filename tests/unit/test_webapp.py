"""The web app is served only when it is built: a server without it still
starts, answers the API, and says how to build it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.webapp import POLICY, web_routes


def test_no_built_app_no_route_and_a_hint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert web_routes(str(tmp_path)) == []
    assert "npm run --prefix clients/web build" in caplog.text


def test_a_built_app_is_mounted_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    [mount] = web_routes(str(tmp_path))
    assert mount.path == ""


def test_the_policy_allows_this_origin_only() -> None:
    directives = dict(part.split(" ", 1) for part in POLICY.split("; "))
    assert directives["default-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert "'unsafe-inline'" not in POLICY and "'unsafe-eval'" not in POLICY.replace(
        "'wasm-unsafe-eval'", ""
    )

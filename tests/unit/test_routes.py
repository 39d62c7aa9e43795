"""The route table: one route per protocol method, and what each call spends."""

from __future__ import annotations

import pytest

from protocol.methods import METHODS
from server.rpc import ROUTES, SENDING, Route, RouteMismatch, check_routes


async def _handler(*_: object) -> None:
    return None


def test_every_method_has_exactly_one_route() -> None:
    assert ROUTES.keys() == METHODS.keys()
    check_routes(ROUTES, METHODS)


def test_a_method_without_a_route_fails_naming_it() -> None:
    routes = {name: route for name, route in ROUTES.items() if name != "agenda.slots"}
    with pytest.raises(RouteMismatch, match=r"without a route: \['agenda.slots'\]"):
        check_routes(routes, METHODS)


def test_a_route_without_a_method_fails_naming_it() -> None:
    routes = {**ROUTES, "threads.shred": Route(_handler)}
    with pytest.raises(RouteMismatch, match=r"to no method .*\['threads.shred'\]"):
        check_routes(routes, METHODS)


def test_only_what_stores_a_message_or_a_sender_key_spends_the_send_bucket() -> None:
    spending = sorted(name for name, route in ROUTES.items() if route.charges == SENDING)
    assert spending == ["keys.distribute", "messages.send"]

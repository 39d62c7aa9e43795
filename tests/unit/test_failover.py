"""Reconnecting to a deployment of several nodes: any other node, at random,
so that after a rolling restart the clients spread over the nodes again."""

from __future__ import annotations

import random

from clients.client import other_node

NODES = ["ws://a/ws", "ws://b/ws", "ws://c/ws"]


def test_a_reconnect_picks_another_node_and_all_of_them_in_turn() -> None:
    random.seed(7)
    picked = [other_node(NODES, "ws://a/ws") for _ in range(60)]
    assert set(picked) == {"ws://b/ws", "ws://c/ws"}  # never the node that failed
    assert abs(picked.count("ws://b/ws") - picked.count("ws://c/ws")) < 20


def test_a_single_node_is_tried_again() -> None:
    assert other_node(["ws://a/ws"], "ws://a/ws") == "ws://a/ws"

"""The benchmark harness against every target, briefly: each published
message must be counted once at each of its receivers, so that the numbers
in benchmarks/README.md count what they claim to."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.plan import chat
from benchmarks.runner import Options, run_target

RATE = 40  # messages/s, for one second


@pytest.mark.parametrize("target", ["carehub", "ceiling", "channels", "channels-redis", "socketio"])
def test_every_delivery_is_counted(target: str) -> None:
    options = Options(
        rates=[RATE, RATE], step_seconds=1, server_cpu=None, generator_cpu=None, stop_at_knee=False
    )
    result = run_target(target, chat(pairs=2, devices=2), options)
    for step in result["steps"]:  # two steps: the second must not be taken for retries
        check_step(target, step)


def check_step(target: str, step: dict[str, Any]) -> None:
    assert step["sent_per_s"] == RATE
    assert step["expected"] == RATE * 3  # the peer's two devices and the sender's other one
    assert step["delivered"] == step["expected"]
    assert step["errors"] == {} and step["closes"] == {} and step["disconnected"] == 0
    assert step["latency"]["p50_ms"] > 0
    if target == "carehub":
        assert step["ack"]["count"] == RATE  # every send stored and acknowledged

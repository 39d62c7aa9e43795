"""The benchmark harness's pure parts: plans, latency summaries, tables and
the drain's polling."""

from __future__ import annotations

import asyncio
from array import array
from typing import Any

import pytest

from benchmarks.__main__ import _options, _parser
from benchmarks.adapters import _Link
from benchmarks.disk import stalls
from benchmarks.plan import chat, fanout, idle
from benchmarks.report import steps_table
from benchmarks.runner import _wait
from benchmarks.stats import merge, summarize


def test_chat_plan_fans_out_to_the_peer_and_the_senders_other_devices() -> None:
    plan = chat(pairs=3, devices=2)
    assert len(plan.links) == 12 and plan.publishers == 6
    assert plan.rooms == [[0, 1], [2, 3], [4, 5]]
    assert {link.fanout for link in plan.links} == {3}
    assert [link.publishes for link in plan.links[:4]] == [True, False, True, False]


def test_fanout_plan_reaches_every_other_member() -> None:
    plan = fanout(members=50, publishers=5)
    assert plan.publishers == 5
    assert all(link.room == 0 and link.fanout == 49 for link in plan.links)


def test_idle_plan_pairs_links_even_when_odd() -> None:
    plan = idle(5)
    assert len(plan.links) == 5 and not plan.publishers
    assert plan.rooms[-1] == [4, 5] and len(plan.roles) == 6


def test_summary_uses_nearest_rank_percentiles() -> None:
    samples = list(range(1000, 101_000, 1000))  # 1..100 ms, shuffled order must not matter
    summary = summarize(reversed(samples))
    assert summary["count"] == 100
    assert summary["p50_ms"] == 50.0
    assert summary["p99_ms"] == 99.0
    assert summary["p99_9_ms"] == 100.0
    assert summary["max_ms"] == 100.0
    assert summary["mean_ms"] == 50.5


def test_empty_summary_and_merge() -> None:
    assert summarize([]) == {"count": 0}
    chunks = [array("q", [1, 2]).tobytes(), array("q", [3]).tobytes()]
    assert list(merge(chunks)) == [1, 2, 3]


def test_stalls_are_the_commits_over_the_threshold_longest_first() -> None:
    latencies = array("q", [300, 40_000, 200, 26_000, 25_000, 90_000])  # µs
    starts = array("q", [0, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 29_910_000])
    found = stalls(latencies, starts, stall_ms=25)
    assert found["count"] == 3  # 25 ms exactly is no stall
    assert found["per_minute"] == 6.0  # in the 30 s from the first start to the last end
    assert found["stalled_ms"] == 156.0
    assert found["worst"] == [[29.91, 90.0], [1.0, 40.0], [3.0, 26.0]]


def test_no_stalls() -> None:
    found = stalls(array("q", [100, 200]), array("q", [0, 10]), stall_ms=25)
    assert found == {
        "threshold_ms": 25,
        "count": 0,
        "per_minute": 0.0,
        "stalled_ms": 0,
        "worst": [],
    }


def _step(acks: int, acked_in_step: float | None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "offered_per_s": 4500.0,
        "sent_per_s": 4500.0,
        "delivered_per_s": 10_000.0,
        "delivery_ratio": 0.74,
        "latency": {"p50_ms": 900.0, "p99_ms": 2000.0, "p99_9_ms": 2100.0},
        "ack": {"count": acks, "p50_ms": 950.0, "p99_ms": 2050.0},
        "server_cpu": 1.0,
        "generator_cpu": 0.3,
    }
    if acked_in_step is not None:
        step["acked_in_step_per_s"] = acked_in_step
    return step


def test_the_steps_table_shows_what_was_acked_while_a_step_ran() -> None:
    result = {"steps": [_step(40_000, 3612.4), _step(0, 0.0), _step(40_000, None)]}
    rows = steps_table(result).splitlines()
    assert "acked in step/s" in rows[0]
    # past the knee, carehub's capacity; "-" for the ceiling (it acknowledges
    # nothing) and for results written before it was measured
    assert [row.split(" | ")[2] for row in rows[2:]] == ["3612", "-", "-"]


class _Workers:
    """Generator workers whose counters move for one step only."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.asked: list[int] = []

    def broadcast(self, command: str, step: int) -> list[tuple[int, int]]:
        assert command == "count"
        self.asked.append(step)
        return [(30, 10), (20, 5)] if step == self.step else [(0, 0), (0, 0)]


def test_a_steps_drain_polls_that_steps_counters() -> None:
    workers = _Workers(step=3)
    _wait(workers, 3, lambda counts: counts == (50, 15), seconds=5)  # type: ignore[arg-type]
    assert workers.asked == [3]  # satisfied on its first poll


def _stops_at_knee(*argv: str) -> bool:
    return _options(_parser().parse_args(["chat", *argv])).stop_at_knee


def test_given_rates_run_every_step_unless_told_to_stop_at_the_knee() -> None:
    assert _stops_at_knee()  # doubling until the knee
    assert not _stops_at_knee("--rates", "2500,4500")  # the step past it reads the capacity
    assert _stops_at_knee("--rates", "100,200,12800", "--stop-at-knee")


async def test_a_welcome_after_the_wait_for_it_gave_up_changes_nothing() -> None:
    link = _Link(None, None, 0)  # type: ignore[arg-type]  # settling reads neither
    waiting = asyncio.ensure_future(asyncio.wait_for(link.ready, 0.001))
    with pytest.raises(TimeoutError):
        await waiting  # it cancels ``ready``
    link.settle()  # the welcome comes late
    link.settle(ConnectionError("then the link drops"))
    assert link.ready.cancelled()

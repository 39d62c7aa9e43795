"""The benchmark harness's pure parts: plans and latency summaries."""

from __future__ import annotations

from array import array

from benchmarks.disk import stalls
from benchmarks.plan import chat, fanout, idle
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

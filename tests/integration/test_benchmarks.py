"""The benchmark harness against every target, briefly: each published
message must be counted once at each of its receivers, so that the numbers
in benchmarks/README.md count what they claim to."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import deflate as deflate_scenario
from benchmarks import disk as disk_scenario
from benchmarks import receipts as receipts_scenario
from benchmarks.plan import chat, fanout
from benchmarks.runner import Options, run_target
from protocol.e2e import SENDER_KEYS_ABOVE

RATE = 40  # messages/s, for one second


@pytest.mark.parametrize(
    "target", ["carehub", "carehub-pg-far", "ceiling", "channels", "channels-redis", "socketio"]
)
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
    if target.startswith("carehub"):
        assert step["ack"]["count"] == RATE  # every send stored and acknowledged
        # counted by the end of the step's sending: most, not those still on their way
        assert 0 < step["acked_in_step_per_s"] <= RATE
        assert step["slow_commits"] >= 0  # read from each node's /healthz
    else:
        assert step["slow_commits"] is None


def test_a_big_groups_publishers_distribute_sender_keys_and_every_delivery_is_counted() -> None:
    """Above ``SENDER_KEYS_ABOVE`` devices the carehub links send version 2
    envelopes, as the SDK does: each publisher distributes its key first."""
    options = Options(
        rates=[RATE], step_seconds=1, server_cpu=None, generator_cpu=None, stop_at_knee=False
    )
    members = SENDER_KEYS_ABOVE + 4
    result = run_target("carehub", fanout(members=members, publishers=2), options)
    (step,) = result["steps"]
    assert step["sent_per_s"] == RATE and step["ack"]["count"] == RATE
    assert step["expected"] == RATE * (members - 1)
    assert step["delivered"] == step["expected"] and step["errors"] == {}


@pytest.mark.parametrize("deflate", [True, False])
def test_the_deflate_scenario_measures_links_that_negotiated_what_it_says(
    deflate: bool, tmp_path: Path
) -> None:
    run = deflate_scenario._measure(deflate, links=5, workdir=tmp_path)
    assert run["deflate"] is deflate
    negotiated = run["negotiated"] or ""
    assert negotiated.startswith("permessage-deflate") is deflate
    assert run["kib_per_link"] >= 0


def test_the_disk_scenario_times_every_commit_and_leaves_nothing_behind(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    argv = ["--dir", str(data), "--rate", "50", "--seconds", "0.5", "--out", str(out)]
    assert disk_scenario.main(argv) == 0
    (written,) = out.glob("disk-*.json")
    document = json.loads(written.read_text())
    assert document["command"] == "python -m benchmarks disk " + " ".join(argv)
    assert document["latency"]["count"] == 25  # 50 commits/s for half a second
    assert 0 < document["latency"]["p50_ms"] <= document["latency"]["max_ms"]
    stalled = document["stalls"]
    assert len(stalled["worst"]) == min(stalled["count"], disk_scenario.WORST)
    assert list(data.iterdir()) == []  # its database went with its temporary directory


def test_the_receipts_scenario_counts_a_bursts_commits_and_waits_for_its_last_tick(
    tmp_path: Path,
) -> None:
    ((commits, tick),) = asyncio.run(receipts_scenario._run(tmp_path, messages=3, bursts=1))
    assert 1 <= commits <= 3 + 3  # at most a send and a receipt each; sharing makes it fewer
    assert tick > 0

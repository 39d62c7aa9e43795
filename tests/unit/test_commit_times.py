"""The writer's commits counted by duration (``/healthz`` ``commit_ms``)."""

from __future__ import annotations

from server.commit_times import CommitTimes


def test_commits_are_counted_in_every_bucket_they_fit_cumulatively() -> None:
    times = CommitTimes()
    for ms in (0.2, 1.0, 1.5, 25.0, 25.1, 99.0, 400.0):
        times.record(ms / 1000)
    assert times.buckets() == {"le_1": 2, "le_5": 3, "le_25": 4, "le_100": 6, "all": 7}


def test_no_commit_yet() -> None:
    assert CommitTimes().buckets() == {"le_1": 0, "le_5": 0, "le_25": 0, "le_100": 0, "all": 0}

"""A push round reads the stream only as far as it was a grace period ago."""

from server.push_progress import GRACE_MS, PushProgress


def test_nothing_is_settled_before_a_grace_period_has_passed() -> None:
    progress = PushProgress()
    assert progress.settled(0, 5) == -1
    assert progress.settled(GRACE_MS - 1, 9) == -1
    assert progress.settled(GRACE_MS, 12) == 5


def test_the_bound_is_the_newest_position_seen_a_grace_period_ago() -> None:
    progress = PushProgress()
    for now, delivered in [(0, 5), (400, 8), (800, 12)]:
        progress.settled(now, delivered)

    assert progress.settled(1_300, 20) == 5  # seen at 0: the one at 400 is 900 ms old
    assert progress.settled(1_450, 21) == 8
    assert progress.settled(1_900, 22) == 12
    assert progress.settled(1_950, 23) == 12


def test_a_round_after_a_long_pause_takes_what_it_last_saw() -> None:
    """A node that did not run rounds meanwhile (another held the lease)
    goes no further than its last sample, which is older still: final too."""
    progress = PushProgress()
    progress.settled(0, 5)
    assert progress.settled(60_000, 900) == 5
    assert progress.settled(60_000 + GRACE_MS, 950) == 900


def test_it_keeps_no_more_than_a_grace_period_of_rounds() -> None:
    progress = PushProgress()
    for now in range(0, 100_000, 100):
        progress.settled(now, now)
    assert len(progress._seen) <= GRACE_MS // 100 + 1

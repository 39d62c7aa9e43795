"""A push round reads the stream only as far as it was a grace period ago."""

from server.push_progress import GRACE_MS, PushProgress


class Ticking:
    """A monotonic clock the test sets, in milliseconds."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return self.ms / 1000


def _at(clock: Ticking, ms: int) -> Ticking:
    clock.ms = ms
    return clock


def test_nothing_is_settled_before_a_grace_period_has_passed() -> None:
    clock = Ticking()
    progress = PushProgress(clock=clock)
    assert progress.settled(5) == -1
    _at(clock, GRACE_MS - 1)
    assert progress.settled(9) == -1
    _at(clock, GRACE_MS)
    assert progress.settled(12) == 5


def test_the_bound_is_the_newest_position_seen_a_grace_period_ago() -> None:
    clock = Ticking()
    progress = PushProgress(clock=clock)
    for ms, delivered in [(0, 5), (400, 8), (800, 12)]:
        _at(clock, ms)
        progress.settled(delivered)

    expected = [(1_300, 5), (1_450, 8), (1_900, 12), (1_950, 12)]  # 1,300: 400 is 900 ms old
    for n, (ms, bound) in enumerate(expected):
        _at(clock, ms)
        assert progress.settled(20 + n) == bound


def test_a_round_after_a_long_pause_takes_what_it_last_saw() -> None:
    """A node that did not run rounds meanwhile (another held the lease)
    goes no further than its last sample, which is older still: final too."""
    clock = Ticking()
    progress = PushProgress(clock=clock)
    progress.settled(5)
    _at(clock, 60_000)
    assert progress.settled(900) == 5
    _at(clock, 60_000 + GRACE_MS)
    assert progress.settled(950) == 900


def test_it_keeps_no_more_than_a_grace_period_of_rounds() -> None:
    clock = Ticking()
    progress = PushProgress(clock=clock)
    for ms in range(0, 100_000, 100):
        _at(clock, ms)
        progress.settled(ms)
    assert len(progress._seen) <= GRACE_MS // 100 + 1

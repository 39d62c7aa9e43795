"""The horizon's step (``storage.events.settle``): a probe's seq is final once
every transaction open at that probe has ended."""

from __future__ import annotations

from storage.events import settle


def test_with_nothing_open_the_newest_seq_is_final() -> None:
    assert settle(0, [], 7, frozenset()) == (7, [])


def test_a_seq_waits_for_the_transactions_open_when_it_was_probed() -> None:
    final, waiting = settle(3, [], 9, frozenset({100, 101}))
    assert (final, waiting) == (3, [(9, frozenset({100, 101}))])
    # 100 ended, 101 did not; a newer transaction 102 does not matter to seq 9.
    final, waiting = settle(final, waiting, 12, frozenset({101, 102}))
    assert (final, waiting) == (3, [(9, frozenset({101})), (12, frozenset({101, 102}))])
    final, waiting = settle(final, waiting, 12, frozenset({102}))
    assert (final, waiting) == (9, [(12, frozenset({102}))])
    assert settle(final, waiting, 15, frozenset()) == (15, [])


def test_a_later_probe_settles_past_an_earlier_one_still_waiting() -> None:
    """Seq 5 waits for transaction 1; seq 8 waited only for 2, which ended:
    everything up to 8 is final, seq 5 included (transaction 1 took none of
    them, or it would have been open at the probe of 8 as well)."""
    waiting = [(5, frozenset({1})), (8, frozenset({2}))]
    assert settle(0, waiting, 8, frozenset({1})) == (8, [])


def test_the_horizon_never_moves_back() -> None:
    assert settle(10, [], 10, frozenset({4})) == (10, [])


def test_waiting_probes_are_bounded() -> None:
    final, waiting = 0, []
    for seq in range(1, 200):
        final, waiting = settle(final, waiting, seq, frozenset({1}))
    assert final == 0 and len(waiting) == 64 and waiting[-1][0] == 199


def test_overlapping_transactions_that_never_all_end_do_not_stall_it() -> None:
    """A transaction starts at every probe and lasts 70 probes: some are
    always open, yet each probe's transactions end in time, so the horizon
    moves (dropping the oldest waiting probes stalled it at 0)."""
    final, waiting = 0, []
    for now in range(1, 2000):
        open_now = frozenset(range(max(1, now - 69), now + 1))  # xid k runs from k to k+69
        final, waiting = settle(final, waiting, now, open_now)
        assert len(waiting) <= 64
    assert final > 1800

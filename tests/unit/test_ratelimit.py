"""Token buckets, driven with explicit times."""

from __future__ import annotations

import pytest

from server.ratelimit import Limit, LocalLimiter, TokenBucket


def test_burst_then_refusal_with_the_right_wait() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.25) == pytest.approx(0.25)  # half a token accrued


def test_refusal_spends_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    for _ in range(5):
        assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(1.0) == 0.0


@pytest.mark.parametrize(
    ("elapsed", "granted"),
    [(0.0, 0), (0.1, 0), (0.5, 1), (1.0, 2), (1.4, 2), (1.5, 3), (100.0, 4)],
)
def test_refill_over_time_capped_at_burst(elapsed: float, granted: int) -> None:
    bucket = TokenBucket(rate=2.0, burst=4, now=0.0)
    for _ in range(4):
        assert bucket.take(0.0) == 0.0
    now = elapsed
    taken = 0
    while bucket.take(now) == 0.0:
        taken += 1
    assert taken == granted


def test_cap_at_burst_after_long_idle() -> None:
    bucket = TokenBucket(rate=10.0, burst=2, now=0.0)
    assert bucket.take(3600.0) == 0.0
    assert bucket.take(3600.0) == 0.0
    assert bucket.take(3600.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("first", "second", "wait"),
    [(1.0, 1.0, 0.0), (2.0, 1.0, 0.25), (1.5, 1.0, 0.125), (0.5, 1.5, 0.0), (0.5, 2.0, 0.125)],
)
def test_cost(first: float, second: float, wait: float) -> None:
    bucket = TokenBucket(rate=4.0, burst=2, now=0.0)
    assert bucket.take(0.0, first) == 0.0
    assert bucket.take(0.0, second) == pytest.approx(wait)


def test_waiting_the_announced_time_succeeds() -> None:
    bucket = TokenBucket(rate=3.0, burst=1, now=5.0)
    assert bucket.take(5.0) == 0.0
    wait = bucket.take(5.1)
    assert wait > 0
    assert bucket.take(5.1 + wait + 1e-9) == 0.0


def test_charges_are_all_or_none() -> None:
    limiter = LocalLimiter()
    calls, sends = ("calls:7", Limit(1.0, 2)), ("sends:7", Limit(1.0, 1))
    assert limiter.take_now(0.0, calls, sends) == 0
    assert limiter.take_now(0.0, calls, sends) == pytest.approx(1.0)  # no send token left
    assert limiter.take_now(0.0, calls) == 0  # the refused charge spent no call token
    assert limiter.take_now(0.0, calls) == pytest.approx(1.0)
    assert limiter.take_now(0.0, ("calls:8", Limit(1.0, 2))) == 0  # another device's own


def test_the_least_recently_used_bucket_is_forgotten() -> None:
    limiter = LocalLimiter(max_keys=2)
    one = ("a", Limit(1.0, 1))
    assert limiter.take_now(0.0, one) == 0
    assert limiter.take_now(0.0, one) > 0
    limiter.take_now(0.0, ("b", Limit(1.0, 1)))
    limiter.take_now(0.0, ("c", Limit(1.0, 1)))  # over max_keys: "a" is forgotten
    assert limiter.take_now(0.0, one) == 0

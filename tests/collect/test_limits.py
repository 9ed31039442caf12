"""Token buckets: a burst, then a refill rate; per key and per address."""

from __future__ import annotations

import pytest

from storewise.collect.limits import Buckets, CollectLimits, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = Buckets(rate=2.0, burst=3, clock=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0  # another name has its own bucket
    clock.now = 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("a") > 0


def test_a_refused_request_spends_nothing() -> None:
    clock = Clock()
    bucket = Buckets(rate=1.0, burst=1, clock=clock)
    bucket.take("a")
    for _ in range(10):
        assert bucket.take("a") > 0
    clock.now = 1.0
    assert bucket.take("a") == 0.0


def test_buckets_are_bounded() -> None:
    bucket = Buckets(rate=1.0, burst=1, clock=Clock(), max_buckets=10)
    for i in range(100):
        bucket.take(str(i))
    assert len(bucket._state) == 10


def test_the_limiter_checks_the_address_then_the_key() -> None:
    clock = Clock()
    limits = CollectLimits(key_rate=1.0, key_burst=3, ip_rate=1.0, ip_burst=2)
    limiter = RateLimiter(limits, clock=clock)
    assert limiter.admit("k", "1.1.1.1") == 0.0
    assert limiter.admit("k", "1.1.1.1") == 0.0
    assert limiter.admit("k", "1.1.1.1") > 0  # the address is out
    assert limiter.admit("k", "2.2.2.2") == 0.0
    assert limiter.admit("k", "3.3.3.3") > 0  # the key is out
    assert limiter.admit("other", "4.4.4.4") == 0.0

"""Pure parts of the client: the retry delay and Retry-After parsing."""

from __future__ import annotations

import email.utils
import random
import time

from zstvg.decompose.client import parse_retry_after, retry_delay


def test_full_jitter_bounds_double_and_cap():
    rng = random.Random(0)
    for attempt, bound in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 10.0), (30, 10.0)]:
        delays = [
            retry_delay(attempt, initial_s=0.5, max_s=10.0, retry_after_s=None, rng=rng)
            for _ in range(200)
        ]
        assert 0.0 <= min(delays) and max(delays) <= bound
        assert max(delays) > 0.8 * bound  # full jitter spreads over the whole range


def test_retry_after_is_a_floor_capped_by_max():
    rng = random.Random(0)
    assert retry_delay(0, initial_s=0.01, max_s=60, retry_after_s=7.0, rng=rng) == 7.0
    assert retry_delay(0, initial_s=0.01, max_s=5, retry_after_s=7.0, rng=rng) == 5.0


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after({"retry-after": date}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None

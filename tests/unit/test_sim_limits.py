"""Message rate, line pool and historical pacing rules."""

from __future__ import annotations

import random

from collector.gateway_sim import GatewaySim, SimConfig
from collector.gateway_sim.limits import HistoricalPacing, LinePool, MessageRate, RateVerdict


def test_a_burst_beyond_the_bucket_is_a_violation_warned_once() -> None:
    rate = MessageRate(limit=50, disconnect_after=2.0)
    verdicts = [rate.hit(10.0 + i * 0.0001) for i in range(60)]
    assert verdicts[:50] == [RateVerdict.OK] * 50
    assert verdicts[50] is RateVerdict.EXCEEDED
    assert RateVerdict.EXCEEDED not in verdicts[51:]


def test_a_client_pacing_itself_at_45_per_second_survives_arrival_jitter() -> None:
    """ib_async sends bursts of up to 45 whenever its own one-second window allows; each
    message reaches the gateway up to 100 ms later. IB's bucket tolerates that, the old
    sliding window did not (spurious errors 100, as seen from ib_async)."""
    rng = random.Random(0)
    sends = [k + i * 0.0005 for k in range(10) for i in range(45)]
    arrivals = sorted(t + rng.uniform(0.0, 0.1) for t in sends)
    bucket = MessageRate(limit=50, disconnect_after=2.0)
    assert all(bucket.hit(t) is RateVerdict.OK for t in arrivals)
    sliding = MessageRate(limit=50, disconnect_after=2.0, sliding=True)
    assert RateVerdict.EXCEEDED in [sliding.hit(t) for t in arrivals]


def test_the_51st_message_within_a_second_breaks_the_sliding_window() -> None:
    rate = MessageRate(limit=50, disconnect_after=2.0, sliding=True)
    verdicts = [rate.hit(10.0 + i * 0.01) for i in range(60)]
    assert verdicts[:50] == [RateVerdict.OK] * 50
    assert verdicts[50] is RateVerdict.EXCEEDED
    assert RateVerdict.EXCEEDED not in verdicts[51:]
    assert RateVerdict.DISCONNECT not in verdicts


def test_just_under_fifty_per_second_forever_is_fine() -> None:
    rate = MessageRate(limit=50, disconnect_after=2.0)
    assert all(rate.hit(i * 0.0201) is RateVerdict.OK for i in range(500))


def test_sustained_excess_disconnects() -> None:
    for sliding in (False, True):
        rate = MessageRate(limit=50, disconnect_after=2.0, sliding=sliding)
        verdicts = [rate.hit(i * 0.01) for i in range(400)]  # 100 msg/s for 4 s
        assert verdicts.count(RateVerdict.EXCEEDED) >= 2  # warned again every second
        assert RateVerdict.DISCONNECT in verdicts
        first = verdicts.index(RateVerdict.DISCONNECT) * 0.01
        assert 2.4 <= first <= 3.1  # the violation starts once the allowance is spent


def test_line_pool() -> None:
    pool = LinePool(2)
    assert pool.acquire("a") and pool.acquire("b") and pool.acquire("a")
    assert not pool.acquire("c")
    pool.release("a")
    assert pool.acquire("c") and len(pool) == 2 and pool.max_seen == 2


def test_historical_pacing_applies_to_small_bars_only() -> None:
    pacing = HistoricalPacing(identical_window=15, max_requests=3, window=600, all_bar_sizes=False)
    assert all(pacing.check("x", float(i), 1800) is None for i in range(10))  # 30 mins
    assert pacing.check("s", 0.0, 30) is None
    assert "identical" in (pacing.check("s", 5.0, 30) or "")
    strict = HistoricalPacing(identical_window=15, max_requests=3, window=600, all_bar_sizes=True)
    assert strict.check("x", 0.0, 1800) is None
    assert "identical" in (strict.check("x", 5.0, 1800) or "")


def test_historical_pacing() -> None:
    pacing = HistoricalPacing(identical_window=15, max_requests=3, window=600, all_bar_sizes=False)
    assert pacing.check("x", 0.0) is None
    assert "identical" in (pacing.check("x", 10.0) or "")
    assert pacing.check("x", 16.0) is None
    assert pacing.check("y", 17.0) is None
    assert "more than 3" in (pacing.check("z", 18.0) or "")
    assert pacing.check("z", 601.0) is None  # the first request left the window


def test_default_dwell_is_realistic_and_fast_dwell_is_short() -> None:
    realistic = GatewaySim(SimConfig())
    samples = sorted(realistic.sample_dwell() for _ in range(2000))
    assert samples[0] >= 0.3 and samples[-1] <= 3.0
    assert 0.85 < samples[1000] < 1.15  # median ~1 s
    assert samples[100] < 0.6 and samples[1900] > 1.8  # spread over 0.3-3 s
    fast = GatewaySim(SimConfig.fast())
    assert max(fast.sample_dwell() for _ in range(200)) <= 0.08

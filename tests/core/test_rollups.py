"""The rollup arithmetic: buckets, quantiles from buckets, windows cut into buckets."""

from __future__ import annotations

from chronoq.core.rollups import (
    BUCKETS_MS,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Keep,
    RollupBatch,
    bucket_of,
    histogram,
    parse_cells,
    quantile,
    segments,
)


def test_bucket_bounds_are_inclusive_and_the_last_is_inf() -> None:
    assert bucket_of(0) == 0 and bucket_of(5) == 0 and bucket_of(5.1) == 1
    assert bucket_of(250) == BUCKETS_MS.index(250)
    assert bucket_of(10**9) == len(BUCKETS_MS)


def test_quantiles_interpolate_inside_their_bucket() -> None:
    buckets = [0] * (len(BUCKETS_MS) + 1)
    buckets[BUCKETS_MS.index(25)] = 90  # (10, 25] ms
    buckets[BUCKETS_MS.index(250)] = 10  # (100, 250] ms
    p50, p99 = quantile(buckets, 0.5), quantile(buckets, 0.99)
    assert p50 is not None and 10 < p50 <= 25
    assert p99 is not None and 100 < p99 <= 250
    assert quantile([0] * len(buckets), 0.5) is None
    buckets[-1] = 1000
    assert quantile(buckets, 0.99) == BUCKETS_MS[-1]  # +Inf: the last bound


def test_a_batch_names_only_non_zero_fields_and_round_trips() -> None:
    batch = RollupBatch()
    batch.count("q", "t", "succeeded", 61_000)
    batch.observe("q", "t", "run", 61_000, 12.4)
    [(queue, task, minute, fields)] = list(batch.fields())
    assert (queue, task, minute) == ("q", "t", 1)
    assert fields == {"succeeded": 1, "r2": 1, "rs": 12}
    cells = parse_cells([{f"t\t{k}": str(v) for k, v in fields.items()}, {"t\tbogus": "1"}])
    buckets, total = histogram(cells["t"], "run")
    assert buckets[2] == 1 and total == 12


def test_segments_take_the_largest_buckets_that_fit() -> None:
    now = 10 * DAY_MS + 5 * HOUR_MS + 7 * MINUTE_MS + 30_000
    parts = segments(now - 2 * HOUR_MS, now, now, Keep())
    # 53 minutes to the hour, one whole hour, then 8 minutes (the current one included).
    assert parts[0] == ("m", (now - 2 * HOUR_MS) // MINUTE_MS)
    assert [p for p in parts if p[0] == "h"] == [("h", 10 * 24 + 4)]
    assert len(parts) == 53 + 1 + 8
    covered = sum({"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS}[r] for r, _ in parts)
    assert covered == 2 * HOUR_MS + 30_000 + 30_000  # from a whole minute to one


def test_a_window_past_what_is_kept_starts_on_a_coarser_bucket() -> None:
    now = 100 * DAY_MS + 5 * HOUR_MS + 7 * MINUTE_MS
    parts = segments(now - 30 * DAY_MS - 90 * MINUTE_MS, now, now, Keep())
    # Hours are kept 8 days: the start rounds down to its day; 30 days, 5 hours, 7 minutes.
    assert [r for r, _ in parts] == ["d"] * 30 + ["h"] * 5 + ["m"] * 7
    assert parts[0] == ("d", 70)
    parts = segments(now - 2 * DAY_MS, now, now, Keep())
    assert parts[0][0] == "h"  # minutes are kept 26 h: the start rounds down to an hour

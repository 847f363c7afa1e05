"""Both versions' buckets on one set of bounds, capped for the verdict document."""

from __future__ import annotations

import json
import math
from importlib import resources

import jsonschema

from monitor.judges.buckets import MAX_BUCKETS, bucket_counts
from monitor.judges.checks import judge_distribution
from monitor.models import ComparisonKind, Direction, HistogramData
from monitor.profiles import CheckSpec
from monitor.report import verdict_document

SCHEMA = json.loads(resources.files("monitor.schema").joinpath("verdict.schema.json").read_text())


def test_bounds_are_the_union_and_counts_per_bucket() -> None:
    canary = HistogramData((0.1, 0.5, math.inf), (10.0, 30.0, 5.0))
    baseline = HistogramData((0.1, 0.25, 0.5, math.inf), (40.0, 20.0, 30.0, 1.0))
    counts = bucket_counts(canary, baseline)
    assert counts is not None
    assert counts.upper_bounds == (0.1, 0.25, 0.5, math.inf)
    assert counts.baseline == (40.0, 20.0, 30.0, 1.0)
    # The canary has no 0.25 bucket: its cumulative count there is the one below it.
    assert counts.canary == (10.0, 0.0, 30.0, 5.0)


def test_many_buckets_are_merged_without_losing_observations() -> None:
    bounds = (*(0.001 * 2**i for i in range(60)), math.inf)
    canary = HistogramData(bounds, tuple(float(i % 7) for i in range(61)))
    baseline = HistogramData(bounds, tuple(float(i % 5) for i in range(61)))
    counts = bucket_counts(canary, baseline)
    assert counts is not None
    assert len(counts.upper_bounds) <= MAX_BUCKETS
    assert counts.upper_bounds[-1] == math.inf
    assert list(counts.upper_bounds) == sorted(counts.upper_bounds)
    assert sum(counts.canary) == canary.total and sum(counts.baseline) == baseline.total


def test_empty_leading_buckets_are_left_out_and_no_data_is_none() -> None:
    canary = HistogramData((0.01, 0.1, 1.0), (0.0, 3.0, 1.0))
    baseline = HistogramData((0.01, 0.1, 1.0), (0.0, 0.0, 2.0))
    counts = bucket_counts(canary, baseline)
    assert counts is not None and counts.upper_bounds == (0.1, 1.0)
    empty = HistogramData((0.1, 1.0), (0.0, 0.0))
    assert bucket_counts(empty, empty) is None


def test_a_distribution_check_publishes_its_buckets_and_allowance() -> None:
    """The optional fields validate against the published schema, +Inf as null."""
    spec = CheckSpec("http_latency", ComparisonKind.DISTRIBUTION, allowed_effect=0.25, unit="s", min_data=10)
    bounds = (0.05, 0.1, 0.25, 0.5, 1.0, math.inf)
    canary = HistogramData(bounds, (100.0, 300.0, 400.0, 150.0, 40.0, 10.0))
    baseline = HistogramData(bounds, (500.0, 900.0, 500.0, 80.0, 15.0, 5.0))
    result = judge_distribution(spec, canary, baseline, alpha=0.01)
    assert result.allowed == (None, 1.25)  # an increase-only check: any decrease is fine
    assert result.histogram is not None and result.histogram.canary == canary.counts
    from datetime import UTC, datetime

    from monitor.models import Verdict, VerdictStatus, VersionWindow, Window

    window = Window(datetime(2026, 11, 26, 10, tzinfo=UTC), datetime(2026, 11, 26, 10, 20, tzinfo=UTC))
    verdict = Verdict("checkout", "production", VersionWindow("v2", window), VersionWindow("v1", window),
                      VerdictStatus.FAIL, 0.0, "fail", (result,), window.end)  # fmt: skip
    document = verdict_document(verdict)
    jsonschema.validate(document, SCHEMA)
    check = document["checks"][0]
    assert check["histogram"]["le"] == [0.05, 0.1, 0.25, 0.5, 1.0, None]
    assert check["allowed"] == [None, 1.25]


def test_a_two_sided_check_allows_both_ways() -> None:
    from monitor.judges.checks import allowed_range

    spec = CheckSpec("rps", ComparisonKind.COUNTS, allowed_effect=0.5, direction=Direction.EITHER)
    assert allowed_range(spec) == (1 / 1.5, 1.5)
    assert allowed_range(CheckSpec("cpu", ComparisonKind.SAMPLES, direction=Direction.DECREASE)) == (
        1.0,
        None,
    )

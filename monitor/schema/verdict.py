"""The verdict document as a model: the source of ``verdict.schema.json``.

The document itself is built by :func:`monitor.report.verdict_document` (the CLI's ``--output
json``, the API, webhooks); this model mirrors it field for field so that its schema is generated
rather than written by hand, and the tests validate documents the monitor produces against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Ratio = float | None  # null: unbounded or not measured
Verdict = Literal["pass", "marginal", "fail", "inconclusive", "running"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionWindow(_Closed):
    """A version and the window its data come from."""

    version: str = Field(min_length=1)
    start: datetime
    end: datetime


class BaselineWindow(VersionWindow):
    """The baseline version and its window; in before/after mode, how that window was chosen."""

    choice: Literal["previous", "day", "week"] | None = Field(
        None,
        description="before/after mode: previous (the window just before the deploy), day or week (the "
        "canary's window 24 hours or 7 days earlier); absent in canary mode and for a window given by hand",
    )


class Measurement(_Closed):
    """One version's value of a check and how much data it rests on."""

    value: Ratio
    n: float = Field(ge=0)


class Bound(_Closed):
    """What a pass rules out: a one-sided confidence bound, at confidence, on the ratio canary/baseline
    of quantity (empty: the check's own ratio) in the harmful direction (an upper bound for increases).
    effect null means unbounded (no events yet). negligible: the canary's own rate is bounded below
    the check's absolute floor."""

    effect: Ratio
    estimate: Ratio
    quantity: str
    confidence: float = Field(gt=0, lt=1)
    negligible: bool


class Evidence(_Closed):
    """A finding behind a check's result (a log template, an operation, a quantile)."""

    label: str
    detail: str = ""
    baseline: Ratio = None
    canary: Ratio = None
    unit: str = ""


class Histogram(_Closed):
    """Both versions' observations per bucket of a distribution check (per-bucket, not cumulative):
    le holds the buckets' upper bounds, ascending, null for +Inf; at most a few dozen buckets,
    neighbours merged beyond that."""

    le: list[float | None] = Field(max_length=64)
    baseline: list[Annotated[float, Field(ge=0)]] = Field(max_length=64)
    canary: list[Annotated[float, Field(ge=0)]] = Field(max_length=64)


class Check(_Closed):
    """One check's result."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    signal: Literal["metrics", "logs", "traces", "probe"]
    comparison: Literal["counts", "distribution", "samples"]
    purpose: Literal["regression", "traffic"] = "regression"
    classification: Literal["pass", "high", "low", "nodata", "error"]
    critical: bool
    weight: float = Field(ge=0)
    unit: str = ""
    baseline: Measurement
    canary: Measurement
    effect: Ratio
    interval: tuple[Ratio, Ratio] | None
    p_value: Annotated[float, Field(ge=0, le=1)] | None
    conclusive: bool = True
    bound: Bound | None = None
    allowed: tuple[Ratio, Ratio] | None = Field(
        None,
        description="the ratio canary/baseline tolerated below and above (for samples, of the medians); "
        "null: that side never regresses",
    )
    histogram: Histogram | None = Field(None, description="distribution checks: both versions' buckets")
    message: str = Field(min_length=1)
    evidence: list[Evidence]


class VerdictDocument(_Closed):
    """One schema for the CLI's --output json, the HTTP API and webhooks. effect is a ratio
    canary/baseline for counts and distribution comparisons and a location shift (canary - baseline,
    in the check's unit) for samples; interval is its confidence interval."""

    model_config = ConfigDict(title="Deployment verdict")

    deployment_id: str | None
    service: str = Field(min_length=1)
    environment: str | None
    canary: VersionWindow
    baseline: BaselineWindow
    verdict: Verdict
    score: float = Field(ge=0, le=100)
    decided_at: datetime | None
    summary: str = Field(min_length=1)
    waiting_on: str | None = Field(
        None,
        description="the HTTP API's interim verdict only: why the next look is late (a failing backend)",
    )
    report_url: str | None = Field(
        None,
        description="webhook deliveries only: the report's address, signed and expiring when report "
        "links are configured (docs/security.md); null without public_url",
    )
    checks: list[Check]

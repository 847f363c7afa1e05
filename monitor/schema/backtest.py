"""The backtest document as a model: the source of ``backtest.schema.json`` and of the API's
``Backtest`` component. It mirrors :func:`monitor.backtest.render_json.backtest_document` field for
field, and the tests validate what that function builds against it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from monitor.models import Mode, VerdictStatus


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BacktestWindow(_Closed):
    """A half-open time range."""

    start: datetime
    end: datetime


class BacktestCheck(_Closed):
    """One check's result at one replayed look."""

    check: str
    classification: str = Field(description="pass, high, low, nodata or error")
    effect: float | None = Field(description="ratio (counts, distributions) or shift (samples)")
    interval_low: float | None
    interval_high: float | None


class BacktestLook(_Closed):
    """One look of a replayed deploy, as the daemon would have recorded it."""

    look: int = Field(ge=1)
    at: datetime
    status: VerdictStatus
    score: float | None = Field(description="0-100; null when not a number")
    checks: list[BacktestCheck]


class BacktestDeploy(_Closed):
    """A past deploy found in the history and replayed look by look."""

    version: str
    baseline_version: str = Field(description="the version it replaced")
    start: datetime = Field(description="when the version first served")
    end: datetime | None = Field(description="when it last served; null: still serving at the range's end")
    overlap: BacktestWindow | None = Field(description="when both versions served (a canary phase)")
    mode: Mode
    canary_window: BacktestWindow
    baseline_window: BacktestWindow | None = Field(description="before/after mode's baseline window")
    verdict: VerdictStatus
    decided_at: datetime | None
    decided_after_s: float | None = Field(description="from the canary window's start to the deciding look")
    summary: str
    looks: list[BacktestLook]


class BacktestCalibration(_Closed):
    """One check's A/A runs: the same version on both sides, so every fail is a false alarm."""

    check: str
    baseline: str = Field(description="the A/A baseline: previous (adjacent window), day or week earlier")
    trials: int = Field(ge=0)
    false_alarms: int = Field(ge=0)
    rate: float = Field(ge=0, le=1)
    rate_interval: list[float] = Field(
        min_length=2, max_length=2, description="95 % Clopper-Pearson interval of the rate"
    )
    detectable_effect: float | None = Field(
        description="the effect caught with 80 % power at the observed traffic"
    )


class BacktestSuggestion(_Closed):
    """A setting for one check that would have kept false alarms at or under the target."""

    check: str
    allowance: float | None
    min_duration_s: float | None
    baseline: str | None
    reason: str


class BacktestDocument(_Closed):
    """What ``monitor backtest --output json`` prints and the backtest API route answers."""

    schema_version: int = Field(description="1; raised when a field changes meaning or goes away")
    service: str
    environment: str | None
    profile: str
    since: datetime
    until: datetime
    false_alarm_target: float = Field(gt=0, lt=1)
    deploys: list[BacktestDeploy]
    calibration: list[BacktestCalibration]
    suggestions: list[BacktestSuggestion]
    warnings: list[str]

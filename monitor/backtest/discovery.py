"""Past deploys of a service, found in its traffic by version over a range of Prometheus history.

One range query, ``sum by (<version label>) (<the profile's traffic series>)`` at a 1-minute step,
cut into chunks under Prometheus' 11,000-point limit and run concurrently through prometheus-api-client,
gives each version's traffic minute by minute as a pandas frame. :func:`read_timeline` (pure) turns it
into when each version served: a version appearing is a deploy of it, replacing the version that
served just before; while both serve (a canary phase) the deploy has an ``overlap``, and a switch
with no lasting overlap is a before/after deploy. Stretches where one version served alone are where
the calibration runs its A/A comparisons.
"""

from __future__ import annotations

import asyncio
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from monitor.backtest.result import PastDeploy
from monitor.errors import ConfigError
from monitor.models import CheckPurpose, ComparisonKind, Signal, VersionWindow, Window
from monitor.profiles import Profile
from monitor.profiles.templates import is_plain_sum, render, selector
from monitor.sources.base import MAX_POINTS

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

    from monitor.sources.prometheus import PrometheusSource

STEP_S = 60.0  # the resolution deploys are found at: a minute
_SELECTED_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{\$selector")


def traffic_template(profile: Profile) -> str:
    """The profile's exposure query of its traffic check (else of its first metric counts check)."""
    metric_counts = [
        c
        for c in profile.checks
        if c.signal is Signal.METRICS and c.comparison is ComparisonKind.COUNTS and c.exposure
    ]
    metric_counts.sort(key=lambda c: c.purpose is not CheckPurpose.TRAFFIC)
    if not metric_counts or metric_counts[0].exposure is None:
        raise ConfigError(
            f"profile {profile.name}: no metrics counts check with an 'exposure' query to find versions "
            "in; add a traffic check (purpose: traffic, comparison: counts, exposure: <requests>)"
        )
    return metric_counts[0].exposure


def version_traffic_query(
    profile: Profile, service: str, matchers: tuple[tuple[str, str], ...] = (), step_s: float = STEP_S
) -> str:
    """Each version's traffic per step: the traffic query of every version, split by the version label.

    A template that is one plain ``sum(...)`` has its sum split ``by`` the version label; any other
    shape (already grouped, a ratio) is replaced by the request rate of the first metric it selects.
    """
    template = traffic_template(profile)
    label = profile.labels.version
    matched = selector(profile, service, None, matchers)
    rendered = render(template, profile, matched, step_s).strip()
    if is_plain_sum(rendered):
        return f"sum by ({label}) ({rendered[rendered.index('(') + 1 : -1]})"
    metric = _SELECTED_METRIC.search(template)
    if metric is None:
        raise ConfigError(
            f"profile {profile.name}: its traffic query selects no metric with {{$selector}}: {template}"
        )
    return f"sum by ({label}) (increase({metric.group(1)}{{{matched}}}[{max(1, round(step_s))}s]))"


def chunks(span: Window, step_s: float = STEP_S, max_points: int = MAX_POINTS) -> list[Window]:
    """``span`` cut into consecutive range-query windows of at most ``max_points`` points each.

    Each chunk's first point is one step after the previous chunk's last, so no point is read twice.
    """
    total = int((span.end - span.start).total_seconds() // step_s) + 1
    step = timedelta(seconds=step_s)
    out: list[Window] = []
    for first in range(0, total, max_points):
        last = min(first + max_points, total) - 1
        out.append(Window(span.start + first * step, span.start + last * step))
    return out


def traffic_frame(results: list[list[dict[str, Any]]], version_label: str) -> pd.DataFrame:
    """Range results (``[{"metric": ..., "values": ...}]`` per chunk) as one long frame.

    Columns ``timestamp`` (Unix seconds), ``version`` and ``value``; built with prometheus-api-client's
    :class:`MetricRangeDataFrame`. Series without the version label are dropped.
    """
    from prometheus_api_client import MetricRangeDataFrame

    with warnings.catch_warnings():  # the client's own set_index(inplace=True), deprecated by pandas 3
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        frames = [
            MetricRangeDataFrame(result, ts_as_datetime=False).reset_index() for result in results if result
        ]
    empty = pd.DataFrame({"timestamp": pd.Series(dtype=float), "version": pd.Series(dtype=str),
                          "value": pd.Series(dtype=float)})  # fmt: skip
    frames = [f for f in frames if version_label in f.columns]
    if not frames:
        return empty
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.rename(columns={version_label: "version"})[["timestamp", "version", "value"]]
    typed: pd.DataFrame = frame.astype({"timestamp": float, "version": str, "value": float})
    return typed


async def fetch_traffic(
    source: PrometheusSource, query: str, span: Window, version_label: str, step_s: float = STEP_S
) -> pd.DataFrame:
    """Each version's traffic per step over ``span`` (:func:`traffic_frame`), chunk by chunk, concurrently.

    The chunks run at once, bounded by the source's concurrency; each goes through
    prometheus-api-client with the source's credentials and retry policy.
    """

    def query_chunk(window: Window) -> Any:
        def call(client: PrometheusConnect, params: dict[str, str]) -> Any:
            return client.custom_query_range(query, window.start, window.end, f"{step_s:g}", params=params)

        return source.with_client(f"the range query {query}", call)

    results = await asyncio.gather(*(query_chunk(w) for w in chunks(span, step_s)))
    return traffic_frame(list(results), version_label)


@dataclass(frozen=True)
class Timeline:
    """When each version of a service served, minute by minute, over the range read.

    ``intervals`` maps each version to the stretches it served (idle gaps merged when no other
    version served in between); ``alone`` are the stretches where exactly one version served;
    ``deploys`` are the version changes found (:func:`find_deploys`).
    """

    span: Window
    intervals: dict[str, tuple[Window, ...]]
    alone: tuple[VersionWindow, ...]
    deploys: tuple[PastDeploy, ...]

    def serving_since(self, version: str, at: datetime) -> datetime | None:
        """When the stretch of ``version`` that covers (or last ended before) ``at`` began."""
        before = [w for w in self.intervals.get(version, ()) if w.start <= at]
        return max(before, key=lambda w: w.start).start if before else None

    def served(self, version: str, window: Window) -> bool:
        """Whether ``version`` served throughout ``window`` (alone or beside another version)."""
        return any(w.start <= window.start and window.end <= w.end for w in self.intervals.get(version, ()))

    def ran_alone(self, version: str, window: Window) -> bool:
        """Whether ``version`` served alone throughout ``window``."""
        return any(
            a.version == version and a.window.start <= window.start and window.end <= a.window.end
            for a in self.alone
        )


def _runs(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> list[tuple[int, int]]:
    """``(first, last)`` row indices of each run of True in ``mask``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _serving(frame: pd.DataFrame, step_s: float) -> pd.DataFrame:
    """Versions as columns over every step of the range, True where the version had traffic."""
    wide = frame.pivot_table(index="timestamp", columns="version", values="value", aggfunc="sum")
    first, last = float(wide.index.min()), float(wide.index.max())
    grid = first + step_s * np.arange(round((last - first) / step_s) + 1)
    wide = wide.reindex(grid, method="nearest", tolerance=step_s / 2)
    return wide.fillna(0.0) > 0.0


def read_timeline(
    frame: pd.DataFrame, step_s: float = STEP_S, *, min_serving_s: float = 120.0, min_overlap_s: float = 300.0
) -> Timeline:
    """When each version served, and the deploys and A/A stretches that follows (a pure function).

    ``frame`` is :func:`traffic_frame`'s: a point at ``T`` counts the traffic of ``(T - step, T]``.
    A stretch shorter than ``min_serving_s`` (a stray pod, a test request) is ignored; an overlap
    shorter than ``min_overlap_s`` (a rolling update's minutes) makes a plain switch.
    """
    if frame.empty:
        now = datetime.now(UTC)
        return Timeline(Window(now, now), {}, (), ())
    serving = _serving(frame, step_s)
    times = serving.index.to_numpy(dtype=float)
    span = Window(_at(times[0] - step_s), _at(times[-1]))
    step = timedelta(seconds=step_s)
    raw: dict[str, list[Window]] = {}
    for version in serving.columns:
        runs = _runs(serving[version].to_numpy(dtype=bool))
        windows = [Window(_at(times[a]) - step, _at(times[b])) for a, b in runs]
        raw[str(version)] = [w for w in windows if w.duration_s >= min_serving_s]
    intervals = {v: _merge_idle(v, ws, raw, min_serving_s) for v, ws in raw.items() if ws}
    kept = serving[[v for v in serving.columns if str(v) in intervals]]
    alone = _alone(kept, times, step_s)
    deploys = find_deploys(intervals, span, min_overlap_s=min_overlap_s, step_s=step_s)
    return Timeline(span, intervals, alone, tuple(deploys))


def _merge_idle(
    version: str, windows: list[Window], raw: dict[str, list[Window]], min_gap_s: float
) -> tuple[Window, ...]:
    """``windows`` with idle gaps merged: a gap while no other version served is not a new deploy.

    Any other version serving during the gap (a rollback after a rolling update, a canary aborted
    and retried) makes the version's return a deploy of its own. A gap shorter than ``min_gap_s``
    is merged regardless: a quiet minute of a low-traffic version, not a change of version.
    """
    others = [w for v, ws in raw.items() if v != version for w in ws]
    merged: list[Window] = []
    for window in windows:
        if merged:
            gap = Window(merged[-1].end, window.start)
            served = any(w.start < gap.end and w.end > gap.start for w in others)
            if gap.duration_s < min_gap_s or not served:
                merged[-1] = Window(merged[-1].start, window.end)
                continue
        merged.append(window)
    return tuple(merged)


def _alone(
    serving: pd.DataFrame, times: np.ndarray[Any, np.dtype[np.float64]], step_s: float
) -> tuple[VersionWindow, ...]:
    """Stretches where exactly one version served, with that version."""
    if serving.empty:
        return ()
    values = serving.to_numpy(dtype=bool)
    solo = values.sum(axis=1) == 1
    which = np.where(solo, values.argmax(axis=1), -1)
    out: list[VersionWindow] = []
    step = timedelta(seconds=step_s)
    for column in range(values.shape[1]):
        for a, b in _runs(which == column):
            out.append(
                VersionWindow(str(serving.columns[column]), Window(_at(times[a]) - step, _at(times[b])))
            )
    return tuple(sorted(out, key=lambda vw: vw.window.start))


def find_deploys(
    intervals: dict[str, tuple[Window, ...]],
    span: Window,
    *,
    min_overlap_s: float = 300.0,
    step_s: float = STEP_S,
) -> list[PastDeploy]:
    """Every stretch of a version that begins inside ``span`` is a deploy of it (a pure function).

    Its baseline is the version that served just before it began (the one still serving, else the
    one that stopped last); with none, the service only began, and nothing is compared. The
    overlap is while both served, when it lasted ``min_overlap_s`` or more.
    """
    deploys: list[PastDeploy] = []
    for version, windows in intervals.items():
        for window in windows:
            if window.start <= span.start + timedelta(seconds=step_s):
                continue  # serving when the range begins: its deploy is before the range
            before = [
                (other, w)
                for other, ws in intervals.items()
                if other != version
                for w in ws
                if w.start < window.start
            ]
            if not before:
                continue
            # Still serving at the start wins; otherwise the one that stopped last.
            other, previous = max(before, key=lambda pair: (pair[1].end > window.start, pair[1].end))
            overlap_end = min(previous.end, window.end)
            overlap = None
            if (overlap_end - window.start).total_seconds() >= min_overlap_s:
                overlap = Window(window.start, overlap_end)
            end = None if window.end >= span.end else window.end
            deploys.append(PastDeploy(version, other, window.start, overlap, end=end))
    return sorted(deploys, key=lambda d: d.start)


def floor_to_step(at: datetime, step_s: float = STEP_S) -> datetime:
    """``at`` down to a whole step since the epoch, so chunks and looks line up with the data's minutes."""
    return _at(math.floor(at.timestamp() / step_s) * step_s)

"""A seeded, simulated history of one service: weeks of traffic with daily and weekly cycles,
traffic spikes and a series of deploys, some of which regress; the ground truth comes with it.

The series are those of the ``otel-http`` profile, as :mod:`monitor.simulate.scenario` generates
them for a single deployment (``http_server_request_duration_seconds_{bucket,count,sum}`` by
``service_name``, ``service_version`` and ``http_response_status_code``, ``process_cpu_time_seconds_total``
and ``process_memory_usage_bytes``), scraped every ``scrape_interval_s`` (one minute by default)
with the same time alignment: a version's counters are 0 at its first scrape and the sample at ``T``
holds the interval ending at ``T``.

Traffic is ``base_rps`` times a daily cycle (peak at 15:00 UTC), a weekend dip, slow random
drift and spikes of several times the traffic for 10 to 40 minutes. Latency rises a little with
load (``latency_load_coupling``), as a real service's does, so a spike or the climb of the daily
cycle moves latency for every version alike: the noise a before/after comparison has to live with.

A deploy starts a new version at ``start``. A plain switch stops the old version there. A canary
deploy runs both for 30 to 60 minutes (the overlap), the new one taking ``canary_share`` of the
traffic, then stops the old. A regressing version keeps its regression (a higher 5xx ratio or a
slower latency tail) until the next deploy replaces it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from monitor.models import Mode, Window
from monitor.simulate.scenario import (
    OTEL_BUCKETS_S,
    Draw,
    Regression,
    Scenario,
    VersionData,
    _bucket_probs,
    draw_version,
)

DAY_S = 86_400
_WEEK_S = 7 * DAY_S
_MONDAY_S = 4 * DAY_S  # 1970-01-05, the first Monday of Unix time
_PEAK_HOUR = 15.0
# Latency medians are rounded to this relative step so that bucket probabilities are computed
# once per distinct median, not once per scrape.
_MEDIAN_STEP = 0.002
_HEALTHY = Regression()


class RegressionKind(StrEnum):
    """What a regressing deploy makes worse."""

    ERRORS = "errors"
    LATENCY = "latency"


@dataclass(frozen=True)
class HistorySpec:
    """What to simulate; the defaults are the 30-day history of the backtest bench.

    ``canaries`` of the ``deploys`` run a canary phase, the others switch at once; ``regressions``
    of them regress, alternately by errors and by latency, and are spread over canary and plain
    deploys. Deploys are at least ``min_gap_s`` apart, the first ``lead_s`` after the start and the
    last ``tail_s`` before the end. Spikes start at least ``spike_clearance_s`` from any deploy.
    """

    service: str = "checkout"
    days: float = 30.0
    deploys: int = 20
    regressions: int = 5
    canaries: int = 8
    scrape_interval_s: int = 60
    base_rps: float = 40.0
    daily_amplitude: float = 0.5
    weekend_factor: float = 0.6
    drift_sigma: float = 0.03
    spikes_per_day: float = 0.7
    spike_clearance_s: int = 0
    latency_median_s: float = 0.08
    latency_sigma: float = 0.5
    latency_load_coupling: float = 0.1
    error_ratio: float = 0.005
    min_gap_s: int = 6 * 3600
    lead_s: int = DAY_S
    tail_s: int = 3 * 3600
    version_prefix: str = "1."
    seed: int = 0

    def __post_init__(self) -> None:
        rules = (
            (self.days > 0 and self.scrape_interval_s > 0, "days and scrape_interval_s must be positive"),
            (self.deploys >= 1, "deploys must be at least 1"),
            (0 <= self.regressions <= self.deploys, "regressions must be in [0, deploys]"),
            (0 <= self.canaries <= self.deploys, "canaries must be in [0, deploys]"),
            (self.base_rps > 0 and self.error_ratio * 4 <= 1, "base_rps > 0, error_ratio <= 0.25"),
            (0 <= self.daily_amplitude < 1, "daily_amplitude must be in [0, 1)"),
            (
                self.lead_s + self.tail_s + (self.deploys - 1) * self.min_gap_s < self.days * DAY_S,
                "the deploys do not fit: lower min_gap_s, lead_s or tail_s, or add days",
            ),
        )
        problems = [message for ok, message in rules if not ok]
        if problems:
            raise ValueError(f"history {self.service!r}: " + "; ".join(problems))

    @property
    def duration_s(self) -> int:
        """The simulated span, a whole number of scrape intervals."""
        dt = self.scrape_interval_s
        return int(self.days * DAY_S) // dt * dt


# The small history of the tests: three days, three deploys (one canary), one regressing. Its
# spikes keep two hours away from the deploys so that each deploy's verdict is clear-cut.
SMALL = HistorySpec(
    service="checkout-small", days=3.0, deploys=3, regressions=1, canaries=1, spike_clearance_s=7200,
    lead_s=12 * 3600, seed=3,
)  # fmt: skip


@dataclass(frozen=True)
class SimulatedDeploy:
    """One deploy and its ground truth: ``version`` replacing ``previous_version`` at ``start``.

    ``overlap`` is the canary phase (both versions serving, ``version`` taking ``canary_share``),
    None for a plain switch. ``regression`` says what the new version made worse (None: healthy);
    ``change`` is the new version's behaviour relative to a healthy one.
    """

    number: int
    version: str
    previous_version: str
    start: datetime
    overlap: Window | None
    canary_share: float | None
    regression: RegressionKind | None
    change: Regression = _HEALTHY

    @property
    def regressed(self) -> bool:
        """Whether this deploy made the service worse than the version it replaced."""
        return self.regression is not None

    @property
    def mode(self) -> Mode:
        """Canary when both versions served at once, before/after otherwise."""
        return Mode.CANARY if self.overlap is not None else Mode.BEFORE_AFTER


@dataclass(frozen=True)
class TrafficSpike:
    """A burst of traffic: every version gets ``factor`` times its traffic over ``window``."""

    window: Window
    factor: float


@dataclass(frozen=True)
class SimulatedHistory:
    """The generated history: its span, the deploys and spikes (ground truth) and each version's data.

    ``versions`` holds one :class:`VersionData` per version in order of appearance, on the scrape
    grid from its first to its last scrape.
    """

    spec: HistorySpec
    span: Window
    deploys: tuple[SimulatedDeploy, ...]
    spikes: tuple[TrafficSpike, ...]
    versions: tuple[VersionData, ...] = field(compare=False, repr=False)

    @property
    def regressions(self) -> tuple[SimulatedDeploy, ...]:
        """The deploys that regressed."""
        return tuple(d for d in self.deploys if d.regressed)

    @property
    def regressed_versions(self) -> frozenset[str]:
        """The versions that carry a regression (the first version never does)."""
        return frozenset(d.version for d in self.deploys if d.regressed)

    def serving(self, at: datetime) -> tuple[str, ...]:
        """The versions with a scrape interval that contains ``at`` (two during a canary phase)."""
        at_s, dt = at.timestamp(), self.spec.scrape_interval_s
        return tuple(v.version for v in self.versions if v.timestamps_s[0] <= at_s < v.timestamps_s[-1] + dt)

    def solo_windows(self) -> tuple[tuple[str, Window], ...]:
        """Where one version served alone: (version, window) in time order; A/A truth holds inside."""
        bounds = [self.span.start]
        for d in self.deploys:
            bounds += [d.start, d.overlap.end if d.overlap else d.start]
        bounds.append(self.span.end)
        versions = [self.versions[0].version, *(d.version for d in self.deploys)]
        pairs = zip(bounds[0::2], bounds[1::2], strict=True)
        return tuple((version, Window(a, b)) for version, (a, b) in zip(versions, pairs, strict=True))


def default_end_unix_s(now_s: float | None = None) -> int:
    """The last Monday 00:00 UTC at least 4 h before ``now``: older than Prometheus' head block.

    Ending on a week boundary puts every deploy at the same hour of the same weekday whenever the
    history is generated, so a seed gives the same traffic around each deploy, not only the same data.
    """
    now_s = time.time() if now_s is None else now_s
    return int((now_s - 4 * 3600 - _MONDAY_S) // _WEEK_S * _WEEK_S + _MONDAY_S)


def simulate_history(spec: HistorySpec = HistorySpec(), end_unix_s: int | None = None) -> SimulatedHistory:
    """Generate ``spec`` over the ``spec.days`` ending at ``end_unix_s`` (default :func:`default_end_unix_s`).

    Deterministic for a given ``spec`` (its ``seed``) and end time.
    """
    end_s = default_end_unix_s() if end_unix_s is None else end_unix_s
    dt = spec.scrape_interval_s
    end_s = end_s // dt * dt
    start_s = end_s - spec.duration_s
    rng = np.random.default_rng([spec.seed, 16])
    deploy_s = _deploy_times(spec, rng, start_s)
    spikes = _spikes(spec, rng, start_s, end_s, deploy_s)
    timestamps = np.arange(start_s, end_s + 1, dt, dtype=np.int64)
    mid_s = (timestamps - dt / 2.0).astype(np.float64)
    total_rps = _total_rps(spec, rng, mid_s, spikes)
    deploys = _deploys(spec, rng, deploy_s)
    # Each version's life on the grid: [first scrape, last scrape] and its traffic share over time.
    firsts = [start_s, *deploy_s]
    lasts = [int(d.overlap.end.timestamp()) if d.overlap else int(d.start.timestamp()) for d in deploys]
    lasts.append(end_s)
    changes = [Regression(), *(d.change for d in deploys)]
    names = [_version_name(spec, 0), *(d.version for d in deploys)]
    versions = []
    for i, (first, last) in enumerate(zip(firsts, lasts, strict=True)):
        rows = (timestamps >= first) & (timestamps <= last)
        share = _share(deploys, i, mid_s[rows])
        v_rng = np.random.default_rng([spec.seed, 17, i])
        versions.append(
            _version_data(
                spec, v_rng, names[i], changes[i], timestamps[rows], total_rps[rows] * share, total_rps[rows]
            )
        )
    return SimulatedHistory(spec, _window(start_s, end_s), tuple(deploys), tuple(spikes), tuple(versions))


def _version_name(spec: HistorySpec, number: int) -> str:
    return f"{spec.version_prefix}{number}.0"


def _deploy_times(spec: HistorySpec, rng: np.random.Generator, start_s: int) -> list[int]:
    """Sorted deploy times at least ``min_gap_s`` apart, on the scrape grid."""
    dt = spec.scrape_interval_s
    slack = spec.duration_s - spec.lead_s - spec.tail_s - (spec.deploys - 1) * spec.min_gap_s
    # Sorted uniform slack shared out between the gaps keeps every gap >= min_gap_s.
    offsets = np.sort(rng.uniform(0, slack, spec.deploys)) + np.arange(spec.deploys) * spec.min_gap_s
    return [start_s + int(spec.lead_s + o) // dt * dt for o in offsets]


def _deploys(spec: HistorySpec, rng: np.random.Generator, deploy_s: list[int]) -> list[SimulatedDeploy]:
    n = spec.deploys
    canary = set(rng.choice(n, spec.canaries, replace=False).tolist())
    # Regressions alternate between canary and plain deploys while both kinds are left.
    pools = [sorted(canary), sorted(set(range(n)) - canary)]
    for pool in pools:
        rng.shuffle(pool)
    regressed: list[int] = []
    for k in range(spec.regressions):
        pool = pools[k % 2] or pools[(k + 1) % 2]
        regressed.append(pool.pop())
    kinds = {index: list(RegressionKind)[k % 2] for k, index in enumerate(sorted(regressed))}
    deploys = []
    for i, at_s in enumerate(deploy_s):
        kind = kinds.get(i)
        overlap = share = None
        if i in canary:
            overlap_s = int(rng.integers(30, 61)) * 60
            overlap = _window(at_s, at_s + overlap_s)
            share = float(rng.choice([0.1, 0.2, 0.25, 0.5]))
        change = Regression()
        if kind is RegressionKind.ERRORS:
            change = Regression(error_factor=float(rng.choice([2.5, 3.0, 4.0])))
        elif kind is RegressionKind.LATENCY:
            change = Regression(
                tail_fraction=float(rng.choice([0.05, 0.1])), tail_factor=float(rng.choice([3.0, 4.0]))
            )
        deploys.append(
            SimulatedDeploy(
                number=i + 1,
                version=_version_name(spec, i + 1),
                previous_version=_version_name(spec, i),
                start=datetime.fromtimestamp(at_s, UTC),
                overlap=overlap,
                canary_share=share,
                regression=kind,
                change=change,
            )
        )
    return deploys


def _spikes(
    spec: HistorySpec, rng: np.random.Generator, start_s: int, end_s: int, deploy_s: list[int]
) -> list[TrafficSpike]:
    spikes = []
    for _ in range(int(rng.poisson(spec.spikes_per_day * spec.days))):
        at_s = int(rng.uniform(start_s, end_s - 3600)) // 60 * 60
        length_s = int(rng.integers(10, 41)) * 60
        factor = float(rng.uniform(2.0, 4.0))
        clear = spec.spike_clearance_s
        if any(at_s - clear < d < at_s + length_s + clear for d in deploy_s):
            continue
        spikes.append(TrafficSpike(_window(at_s, at_s + length_s), factor))
    return sorted(spikes, key=lambda s: s.window.start)


def _total_rps(
    spec: HistorySpec, rng: np.random.Generator, mid_s: NDArray[np.float64], spikes: list[TrafficSpike]
) -> NDArray[np.float64]:
    hour = (mid_s % DAY_S) / 3600.0
    daily = 1.0 + spec.daily_amplitude * np.cos(2.0 * math.pi * (hour - _PEAK_HOUR) / 24.0)
    weekday = ((mid_s - _MONDAY_S) // DAY_S) % 7  # 0 is Monday
    weekly = np.where(weekday >= 5, spec.weekend_factor, 1.0)
    # Slow drift: an AR(1) process with an hour's memory, in log space.
    phi = math.exp(-spec.scrape_interval_s / 3600.0)
    shocks = rng.standard_normal(mid_s.shape) * spec.drift_sigma * math.sqrt(1.0 - phi**2)
    drift = np.empty_like(shocks)
    level = 0.0
    for i, shock in enumerate(shocks.tolist()):  # a recursion: ~40k steps per month, fast enough
        level = phi * level + shock
        drift[i] = level
    spike = np.ones_like(mid_s)
    for s in spikes:
        inside = (mid_s >= s.window.start.timestamp()) & (mid_s < s.window.end.timestamp())
        spike[inside] *= s.factor
    return spec.base_rps * daily * weekly * np.exp(drift) * spike


def _share(deploys: list[SimulatedDeploy], index: int, mid_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Version ``index``'s share of the traffic at ``mid_s`` (within its life)."""
    share = np.ones_like(mid_s)
    arriving = deploys[index - 1] if index > 0 else None
    if arriving is not None and arriving.overlap is not None and arriving.canary_share is not None:
        during = mid_s < arriving.overlap.end.timestamp()
        share = np.where(during, arriving.canary_share, share)
    leaving = deploys[index] if index < len(deploys) else None
    if leaving is not None and leaving.overlap is not None and leaving.canary_share is not None:
        during = mid_s >= leaving.start.timestamp()
        share = np.where(during, share * (1.0 - leaving.canary_share), share)
    return share


def _version_data(
    spec: HistorySpec,
    rng: np.random.Generator,
    version: str,
    change: Regression,
    timestamps: NDArray[np.int64],
    rps: NDArray[np.float64],
    total_rps: NDArray[np.float64],
) -> VersionData:
    """One version's series on its scrape grid, drawn as the single-deployment generator draws them."""
    dt = spec.scrape_interval_s
    shape = Scenario("history", latency_median_s=spec.latency_median_s, latency_sigma=spec.latency_sigma)
    rps = rps.copy()
    rps[0] = 0.0  # counters start at 0 at the first scrape
    load = np.clip(1.0 + spec.latency_load_coupling * (total_rps / spec.base_rps - 1.0), 0.5, None)
    factor = np.round(load * change.median_factor / _MEDIAN_STEP) * _MEDIAN_STEP
    distinct, index = np.unique(factor, return_inverse=True)
    table = np.array([_bucket_probs(spec.latency_median_s * f, shape, change) for f in distinct.tolist()])
    probs = table[index.reshape(-1)]
    tail_mean = 1.0 - change.tail_fraction + change.tail_fraction * change.tail_factor
    mean_s = spec.latency_median_s * factor * math.exp(spec.latency_sigma**2 / 2.0) * tail_mean

    error_chance = min(1.0, spec.error_ratio * change.error_factor)
    draw = Draw(rps * dt, error_chance, probs, mean_s, change)
    return draw_version(rng, version, (*OTEL_BUCKETS_S, math.inf), timestamps, draw)


def _window(start_s: int, end_s: int) -> Window:
    return Window(datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC))


__all__ = [
    "SMALL",
    "HistorySpec",
    "RegressionKind",
    "SimulatedDeploy",
    "SimulatedHistory",
    "TrafficSpike",
    "default_end_unix_s",
    "simulate_history",
]

"""Scenario model and seeded, vectorised generation of canary/baseline HTTP metrics.

Time alignment, shared by every consumer: a version is scraped every ``scrape_interval_s``
from its first timestamp; its counters are 0 at that first scrape and the sample at
timestamp ``T`` includes everything from the scrape interval ending at ``T``. Every version
emits a sample exactly at its window start and end, so a window's total is
``value(end) - value(start)`` and the data of ``[start, end)`` are the samples in
``(start, end]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from monitor.models import HistogramData, Mode, Window

OTEL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
PROMETHEUS_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUS_CODES = ("200", "500")
BASELINE_PREROLL_S = 600
CPU_S_PER_REQUEST = 0.002
MEMORY_BYTES = 2e8


@dataclass(frozen=True)
class Regression:
    """What differs in the canary; the defaults describe an identical canary (A/A)."""

    median_factor: float = 1.0
    tail_fraction: float = 0.0
    tail_factor: float = 1.0
    error_factor: float = 1.0
    cpu_factor: float = 1.0
    memory_factor: float = 1.0


@dataclass(frozen=True)
class Scenario:
    """One simulated deployment; ``name`` is also the service label value.

    In canary mode both versions run side by side over ``[start, start + duration_s)`` and the
    baseline also serves all traffic for ``BASELINE_PREROLL_S`` before ``start``. In
    before/after mode the baseline alone serves ``[start - duration_s, start)`` and the canary
    alone ``[start, start + duration_s)``. ``ramp_to_rps`` ramps the total rate linearly over
    the analysed span (canary mode: the window; before/after: both windows back to back).
    ``shared_slowdown`` and ``shared_error_burst`` (``(from_s, to_s, error_ratio)``) hit both
    versions; their offsets are relative to each version's own window start. ``share_step``
    (``(offset_s, share)``, canary mode) moves the canary's share of traffic mid-window, as a
    canary weight step does.
    """

    name: str
    duration_s: int = 1200
    scrape_interval_s: int = 15
    mode: Mode = Mode.CANARY
    total_rps: float = 100.0
    canary_share: float = 0.1
    ramp_to_rps: float | None = None
    latency_median_s: float = 0.08
    latency_sigma: float = 0.5
    error_ratio: float = 0.005
    shared_slowdown: tuple[float, float, float] | None = None
    shared_error_burst: tuple[float, float, float] | None = None
    share_step: tuple[float, float] | None = None
    canary: Regression = Regression()
    canary_traffic: bool = True
    flavor: Literal["otel", "prometheus"] = "otel"
    baseline_version: str = "v1"
    canary_version: str = "v2"
    seed: int = 0

    def __post_init__(self) -> None:
        dt, reg, slow = self.scrape_interval_s, self.canary, self.shared_slowdown
        factors = (reg.median_factor, reg.tail_factor, reg.error_factor, reg.cpu_factor)
        rules = (
            (
                dt > 0 and self.duration_s > 0 and self.duration_s % dt == 0,
                "duration_s must be a positive multiple of scrape_interval_s",
            ),
            (0.0 < self.canary_share < 1.0, "canary_share must be in (0, 1)"),
            (min(self.total_rps, self.ramp_to_rps or 0.0) >= 0, "rates must not be negative"),
            (min(self.latency_median_s, self.latency_sigma) > 0, "latency must be positive"),
            (
                0.0 <= self.error_ratio * max(1.0, reg.error_factor) <= 1.0,
                "error_ratio (times canary.error_factor) must be in [0, 1]",
            ),
            (min(factors) > 0, "canary factors must be positive"),
            (0.0 <= reg.tail_fraction <= 1.0, "canary.tail_fraction must be in [0, 1]"),
            (slow is None or slow[0] < slow[1], "shared_slowdown must be (from_s, to_s, factor)"),
            (
                self.shared_error_burst is None
                or (
                    self.shared_error_burst[0] < self.shared_error_burst[1]
                    and 0 <= self.shared_error_burst[2] * max(1.0, reg.error_factor) <= 1
                ),
                "shared_error_burst must be (from_s, to_s, error_ratio in [0, 1])",
            ),
            (
                self.share_step is None or 0.0 < self.share_step[1] < 1.0,
                "share_step must be (offset_s, share in (0, 1))",
            ),
            (self.baseline_version != self.canary_version, "the two versions must differ"),
        )
        problems = [message for ok, message in rules if not ok]
        if problems:
            raise ValueError(f"scenario {self.name!r}: " + "; ".join(problems))

    @property
    def upper_bounds_s(self) -> tuple[float, ...]:
        """Histogram bucket upper bounds of this flavor, ending with ``inf``."""
        finite = OTEL_BUCKETS_S if self.flavor == "otel" else PROMETHEUS_BUCKETS_S
        return (*finite, math.inf)


@dataclass(frozen=True)
class Totals:
    """What one version did inside one window (exact sums of the generated samples)."""

    requests: int
    errors: int
    histogram: HistogramData
    latency_sum_s: float
    cpu_s: float


@dataclass(frozen=True, eq=False)
class VersionData:
    """Generated series of one version, one row per scrape.

    Counter arrays hold per-interval increments (row 0, the first scrape, is all zeros):
    ``buckets`` is ``(scrapes, len(STATUS_CODES), buckets)`` with per-bucket (not cumulative)
    counts, ``latency_sum_s`` is ``(scrapes, len(STATUS_CODES))``, ``cpu_s`` is ``(scrapes,)``.
    ``memory_bytes`` is a gauge.
    """

    version: str
    upper_bounds_s: tuple[float, ...]
    timestamps_s: NDArray[np.int64]
    buckets: NDArray[np.int64]
    latency_sum_s: NDArray[np.float64]
    cpu_s: NDArray[np.float64]
    memory_bytes: NDArray[np.int64]

    def totals(self, window: Window) -> Totals:
        """Sum the increments of the scrapes in ``(window.start, window.end]``."""
        ts = self.timestamps_s
        rows = (ts > window.start.timestamp()) & (ts <= window.end.timestamp())
        per_code = self.buckets[rows].sum(axis=(0, 2))
        counts = self.buckets[rows].sum(axis=(0, 1))
        return Totals(
            requests=int(per_code.sum()),
            errors=int(per_code[STATUS_CODES.index("500")]),
            histogram=HistogramData(self.upper_bounds_s, tuple(float(c) for c in counts)),
            latency_sum_s=float(self.latency_sum_s[rows].sum()),
            cpu_s=float(self.cpu_s[rows].sum()),
        )


@dataclass(frozen=True)
class SimulatedRun:
    """A scenario placed at an absolute start time, with its windows and generated data."""

    scenario: Scenario
    start_unix_s: int
    canary_window: Window
    baseline_window: Window
    baseline: VersionData = field(compare=False, repr=False)
    canary: VersionData | None = field(compare=False, repr=False)

    @property
    def versions(self) -> tuple[VersionData, ...]:
        """The versions that emitted data (the canary is absent in no-traffic scenarios)."""
        return (self.baseline,) if self.canary is None else (self.baseline, self.canary)


def simulate(scenario: Scenario, start_unix_s: int) -> SimulatedRun:
    """Generate the data of ``scenario`` with the canary window starting at ``start_unix_s``.

    Deterministic for a given ``scenario.seed``, independent of the start time.
    """
    start, d, dt = start_unix_s, scenario.duration_s, scenario.scrape_interval_s
    canary_window = _window(start, start + d)
    if scenario.mode is Mode.CANARY:
        preroll_s = -(-BASELINE_PREROLL_S // dt) * dt
        baseline = _generate(scenario, False, start - preroll_s, start + d, start)
        baseline_window = canary_window
    else:
        baseline = _generate(scenario, False, start - d, start, start)
        baseline_window = _window(start - d, start)
    canary = _generate(scenario, True, start, start + d, start) if scenario.canary_traffic else None
    return SimulatedRun(scenario, start, canary_window, baseline_window, baseline, canary)


def _generate(sc: Scenario, canary: bool, first_s: int, last_s: int, start_s: int) -> VersionData:
    rng = np.random.default_rng([sc.seed, int(canary)])
    dt = sc.scrape_interval_s
    timestamps = np.arange(first_s, last_s + 1, dt, dtype=np.int64)
    mid_s = (timestamps - dt / 2.0).astype(np.float64)
    reg = sc.canary if canary else Regression()
    window_start_s = start_s if sc.mode is Mode.CANARY or canary else start_s - sc.duration_s

    rps = _rps(sc, canary, mid_s, start_s)
    rps[0] = 0.0  # counters start at 0 at the first scrape
    median_s = np.full(mid_s.shape, sc.latency_median_s * reg.median_factor)
    if sc.shared_slowdown is not None:
        lo, hi, factor = sc.shared_slowdown
        offset_s = mid_s - window_start_s
        median_s *= np.where((offset_s >= lo) & (offset_s < hi), factor, 1.0)
    distinct, index = np.unique(median_s, return_inverse=True)
    probs = np.array([_bucket_probs(m, sc, reg) for m in distinct])[index.reshape(-1)]
    tail_mean = 1.0 - reg.tail_fraction + reg.tail_fraction * reg.tail_factor
    mean_s = median_s * math.exp(sc.latency_sigma**2 / 2.0) * tail_mean

    error_ratio = np.full(mid_s.shape, sc.error_ratio)
    if sc.shared_error_burst is not None:
        lo, hi, burst = sc.shared_error_burst
        offset_s = mid_s - window_start_s
        error_ratio = np.where((offset_s >= lo) & (offset_s < hi), burst, error_ratio)
    version = sc.canary_version if canary else sc.baseline_version
    draw = Draw(rps * dt, error_ratio * reg.error_factor, probs, mean_s, reg)
    return draw_version(rng, version, sc.upper_bounds_s, timestamps, draw)


@dataclass(frozen=True)
class Draw:
    """What a version's scrapes are drawn from: the expected requests per scrape, the chance of an
    error (per scrape or one for all), the latency buckets' probabilities per scrape, the mean
    latency per scrape, and the version's behaviour (its CPU and memory factors)."""

    expected_requests: NDArray[np.float64]
    error_chance: NDArray[np.float64] | float
    probs: NDArray[np.float64]
    mean_s: NDArray[np.float64]
    change: Regression


def draw_version(
    rng: np.random.Generator,
    version: str,
    upper_bounds_s: tuple[float, ...],
    timestamps: NDArray[np.int64],
    draw: Draw,
) -> VersionData:
    """One version's series drawn from ``draw``: requests, errors, latency buckets and sums, CPU and
    memory, in that order from ``rng`` (the order keeps seeded runs reproducible)."""
    requests = rng.poisson(draw.expected_requests)
    errors = rng.binomial(requests, draw.error_chance)
    by_code = (requests - errors, errors)
    buckets = np.stack([rng.multinomial(n, draw.probs) for n in by_code], axis=1)
    latency_sum = np.stack([n * draw.mean_s for n in by_code], axis=1)
    noise = np.clip(1.0 + 0.05 * rng.standard_normal(requests.shape), 0.0, None)
    cpu = requests * CPU_S_PER_REQUEST * draw.change.cpu_factor * noise
    memory = MEMORY_BYTES * draw.change.memory_factor + 1e6 * rng.standard_normal(timestamps.shape)
    return VersionData(
        version=version,
        upper_bounds_s=upper_bounds_s,
        timestamps_s=timestamps,
        buckets=buckets.astype(np.int64),
        latency_sum_s=latency_sum.astype(np.float64),
        cpu_s=cpu.astype(np.float64),
        memory_bytes=np.rint(memory).astype(np.int64),
    )


def _rps(sc: Scenario, is_canary: bool, mid_s: NDArray[np.float64], start_s: int) -> NDArray[np.float64]:
    total = np.full(mid_s.shape, sc.total_rps)
    if sc.ramp_to_rps is not None:
        span_from = start_s if sc.mode is Mode.CANARY else start_s - sc.duration_s
        progress = np.clip((mid_s - span_from) / (start_s + sc.duration_s - span_from), 0.0, 1.0)
        total += (sc.ramp_to_rps - sc.total_rps) * progress
    if sc.mode is Mode.BEFORE_AFTER:
        return total
    share: NDArray[np.float64] = np.full(mid_s.shape, sc.canary_share)
    if sc.share_step is not None:
        share = np.where(mid_s - start_s >= sc.share_step[0], sc.share_step[1], share).astype(np.float64)
    if is_canary:
        return total * share
    during = 1.0 - share if sc.canary_traffic else 1.0
    # Before the deploy the baseline served everything.
    return total * np.where(mid_s < start_s, 1.0, during)


def _bucket_probs(median_s: float, sc: Scenario, reg: Regression) -> NDArray[np.float64]:
    def cdf(x: float, m: float) -> float:
        return 0.5 * (1.0 + math.erf(math.log(x / m) / (sc.latency_sigma * math.sqrt(2.0))))

    tail = reg.tail_fraction
    cumulative = [
        (1.0 - tail) * cdf(b, median_s) + tail * cdf(b, median_s * reg.tail_factor)
        for b in sc.upper_bounds_s[:-1]
    ]
    return np.clip(np.diff(np.array([0.0, *cumulative, 1.0])), 0.0, 1.0)


def _window(start_s: int, end_s: int) -> Window:
    return Window(datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC))

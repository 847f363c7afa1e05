"""The benchmark grid: cells of simulated deployments, each cell a family of seeded scenarios.

Every scenario is a 20-minute canary-mode window with a 10% canary share. Seeds are fixed
(``seed_base + i``, ``seed_base`` derived from the cell's key), so the grid, and with it the whole
benchmark, is reproducible, every run has its own seed, and adding a cell changes no other
cell's runs. Cells with a :class:`TelemetryPlan` also send logs and traces through the OTLP
receiver's aggregator (their metrics are A/A unless the scenario says otherwise).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from enum import StrEnum

from bench.detection.telemetry import TelemetryFault, TelemetryPlan
from monitor.simulate import Regression, Scenario

WINDOW_MIN = 20
SEED_STRIDE = 10_000  # seeds of one cell: seed_base .. seed_base + SEED_STRIDE - 1
# plain, ramp, shared slowdown, high traffic, weight step, low traffic, logs and traces
AA_SHARES = (0.25, 0.1, 0.1, 0.15, 0.15, 0.15, 0.1)
QUICK = {"aa_runs": 8, "seeds": 2, "nodata_runs": 1}
DEFAULTS = {"aa_runs": 400, "seeds": 20, "nodata_runs": 5}


class CellKind(StrEnum):
    """What a cell's runs should end as: pass (A/A), fail (regression) or inconclusive."""

    AA = "A/A"
    REGRESSION = "regression"
    NODATA = "no data"


@dataclass(frozen=True)
class Cell:
    """A family of runs that differ only by seed; ``trap`` marks the A/A cells that must never fail."""

    key: str
    title: str
    kind: CellKind
    template: Scenario
    runs: int
    seed_base: int
    telemetry: TelemetryPlan | None = None
    trap: bool = False

    @property
    def canary_rps(self) -> float:
        """Canary requests per second at the start of the window."""
        return self.template.total_rps * self.template.canary_share

    def scenarios(self) -> tuple[Scenario, ...]:
        """The cell's scenarios; the name (= service label) is ``<key>-<index>``."""
        return tuple(
            replace(self.template, name=f"{self.key}-{i:04d}", seed=self.seed_base + i)
            for i in range(self.runs)
        )


@dataclass(frozen=True)
class _Definition:
    key: str
    title: str
    kind: CellKind
    template: Scenario
    telemetry: TelemetryPlan | None = None
    trap: bool = False


_T = "template"  # scenario name placeholder, replaced per run

_AA = (
    _Definition("aa-plain", "A/A plain, 100 rps", CellKind.AA, Scenario(_T)),
    _Definition(
        "aa-ramp", "A/A traffic ramp 100→300 rps", CellKind.AA, Scenario(_T, ramp_to_rps=300.0), trap=True
    ),
    _Definition(
        "aa-slowdown",
        "A/A shared 2x slowdown, min 5-12",
        CellKind.AA,
        Scenario(_T, shared_slowdown=(300.0, 720.0, 2.0)),
        trap=True,
    ),
    _Definition(
        "aa-3000rps-2pct",
        "A/A-like 3000 rps, +2% median",
        CellKind.AA,
        Scenario(_T, total_rps=3000.0, canary=Regression(median_factor=1.02)),
        trap=True,
    ),
    _Definition(
        "aa-weight-step",
        "A/A weight 10%→50% at min 10, shared incident min 13-16",
        CellKind.AA,
        Scenario(
            _T,
            share_step=(600.0, 0.5),
            shared_error_burst=(780.0, 960.0, 0.1),
            shared_slowdown=(780.0, 960.0, 2.0),
        ),
        trap=True,
    ),
    _Definition(
        "aa-low",
        "A/A low traffic, 0.1% errors, canary 2 rps",
        CellKind.AA,
        Scenario(_T, total_rps=20.0, error_ratio=0.001),
    ),
    _Definition(
        "aa-otlp",
        "A/A logs and traces, canary 5 rps",
        CellKind.AA,
        Scenario(_T, total_rps=50.0, error_ratio=0.002),
        TelemetryPlan(),
    ),
)


def _regression(
    key: str, title: str, canary_rps: float, reg: Regression, error_ratio: float = 0.005
) -> _Definition:
    template = Scenario(_T, total_rps=canary_rps * 10, error_ratio=error_ratio, canary=reg)
    return _Definition(key, f"{title}, canary {canary_rps:g} rps", CellKind.REGRESSION, template)


def _telemetry(key: str, title: str, fault: TelemetryFault, logs: bool, traces: bool) -> _Definition:
    template = Scenario(_T, total_rps=50.0, error_ratio=0.002)
    plan = TelemetryPlan(logs=logs, traces=traces, fault=fault)
    return _Definition(key, f"{title}, canary 5 rps", CellKind.REGRESSION, template, plan)


_ERRORS = tuple(
    _regression(
        f"err{base * 1000:g}-{factor}x-{rps}",
        f"errors {factor}x ({base:.1%}→{base * factor:.1%})",
        rps,
        Regression(error_factor=factor),
        base,
    )
    for base in (0.001, 0.002, 0.005)
    for factor in (2, 3)
    for rps in (2, 10, 30)
)

_REGRESSIONS = (
    _regression("med25-10", "median +25%", 10, Regression(median_factor=1.25)),
    _regression("med25-30", "median +25%", 30, Regression(median_factor=1.25)),
    _regression("med50-10", "median +50%", 10, Regression(median_factor=1.5)),
    _regression("med50-30", "median +50%", 30, Regression(median_factor=1.5)),
    _regression("tail-10", "tail 5% x4", 10, Regression(tail_fraction=0.05, tail_factor=4.0)),
    _regression("tail-30", "tail 5% x4", 30, Regression(tail_fraction=0.05, tail_factor=4.0)),
    _regression("err3-10", "errors 3x (1%→3%)", 10, Regression(error_factor=3.0), 0.01),
    _regression("err3-30", "errors 3x (1%→3%)", 30, Regression(error_factor=3.0), 0.01),
    _regression("err5-10", "errors 5x (1%→5%)", 10, Regression(error_factor=5.0), 0.01),
    _regression("err5-30", "errors 5x (1%→5%)", 30, Regression(error_factor=5.0), 0.01),
    _regression("med10-300", "median +10%", 300, Regression(median_factor=1.1)),
    # Harder cells: little canary traffic, smaller changes, low base error ratios, tails only.
    _regression("med25-2", "median +25%", 2, Regression(median_factor=1.25)),
    _regression("med15-10", "median +15%", 10, Regression(median_factor=1.15)),
    _regression("med15-2", "median +15%", 2, Regression(median_factor=1.15)),
    _regression("med10-10", "median +10%", 10, Regression(median_factor=1.1)),
    _regression("med10-2", "median +10%", 2, Regression(median_factor=1.1)),
    _regression("tail1x2-10", "tail 1% x2", 10, Regression(tail_fraction=0.01, tail_factor=2.0)),
    _regression("tail1x3-10", "tail 1% x3", 10, Regression(tail_fraction=0.01, tail_factor=3.0)),
    _regression("tail2x2-10", "tail 2% x2", 10, Regression(tail_fraction=0.02, tail_factor=2.0)),
    _regression("tail2-10", "tail 2% x3", 10, Regression(tail_fraction=0.02, tail_factor=3.0)),
    _regression("tail5x2-10", "tail 5% x2", 10, Regression(tail_fraction=0.05, tail_factor=2.0)),
    _regression("tail5x3-10", "tail 5% x3", 10, Regression(tail_fraction=0.05, tail_factor=3.0)),
    _regression("err3-2", "errors 3x (1%→3%)", 2, Regression(error_factor=3.0), 0.01),
    _regression("err2-10", "errors 2x (1%→2%)", 10, Regression(error_factor=2.0), 0.01),
    *_ERRORS,
    _telemetry("log-new-0.5", "new ERROR log template on 0.5% of requests",
               TelemetryFault(new_error_share=0.005), logs=True, traces=True),
    _telemetry("log-new-2", "new ERROR log template on 2% of requests",
               TelemetryFault(new_error_share=0.02), logs=True, traces=True),
    _telemetry("span-slow", "database span 1.5x slower",
               TelemetryFault(db_factor=1.5), logs=False, traces=True),
    _telemetry("span-n+1", "N+1 loop: 3 database calls per request instead of 1",
               TelemetryFault(db_calls=3), logs=False, traces=True),
)  # fmt: skip

_NODATA = _Definition(
    "nodata", "no data (canary silent)", CellKind.NODATA, Scenario(_T, canary_traffic=False)
)
_DEFINITIONS = (*_AA, *_REGRESSIONS, _NODATA)


def aa_split(total: int) -> tuple[int, ...]:
    """Split ``total`` A/A runs over the A/A cells by ``AA_SHARES`` (rest to plain)."""
    counts = [int(total * share) for share in AA_SHARES]
    counts[0] += total - sum(counts)
    return tuple(counts)


def build_grid(
    aa_runs: int, seeds: int, nodata_runs: int, keys: frozenset[str] | None = None
) -> tuple[Cell, ...]:
    """The grid: ``aa_runs`` A/A runs in all, ``seeds`` runs per regression cell, and
    ``nodata_runs`` silent-canary runs; only the cells in ``keys`` when given. Cells with zero
    runs are left out."""
    for name, value in (("aa_runs", aa_runs), ("seeds", seeds), ("nodata_runs", nodata_runs)):
        if not 0 <= value < SEED_STRIDE:
            raise ValueError(f"{name} must be in [0, {SEED_STRIDE}), got {value}")
    runs = {d.key: n for d, n in zip(_AA, aa_split(aa_runs), strict=True)}
    runs.update({d.key: seeds for d in _REGRESSIONS})
    runs[_NODATA.key] = nodata_runs
    cells = (
        Cell(
            key=d.key,
            title=d.title,
            kind=d.kind,
            template=d.template,
            runs=runs[d.key],
            seed_base=seed_base(d.key),
            telemetry=d.telemetry,
            trap=d.trap,
        )
        for d in _DEFINITIONS
    )
    return tuple(cell for cell in cells if cell.runs > 0 and (keys is None or cell.key in keys))


def seed_base(key: str) -> int:
    """The first seed of a cell: fixed by its key, so cells can be added without moving others."""
    return (zlib.crc32(key.encode()) % 100_000 + 1) * SEED_STRIDE


def cell_keys() -> tuple[str, ...]:
    """Every cell's key, in grid order (for ``--cells``)."""
    return tuple(d.key for d in _DEFINITIONS)

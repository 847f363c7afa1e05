"""The benchmark grid: cells of simulated deployments, each cell a family of seeded scenarios.

Every scenario is a 20-minute canary-mode window with a 10% canary share. Seeds are fixed
(``seed_base + i``, ``seed_base`` derived from the cell's fixed position in ``_DEFINITIONS``), so
the grid, and with it the whole benchmark, is reproducible and every run has its own seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from monitor.simulate import Regression, Scenario

WINDOW_MIN = 20
SEED_STRIDE = 10_000  # seeds of one cell: seed_base .. seed_base + SEED_STRIDE - 1
AA_SHARES = (0.3, 0.15, 0.15, 0.2, 0.2)  # plain, ramp, shared slowdown, high traffic, weight step
QUICK = {"aa_runs": 8, "seeds": 2, "nodata_runs": 1}


class CellKind(StrEnum):
    """What a cell's runs should end as: pass (A/A), fail (regression) or inconclusive."""

    AA = "A/A"
    REGRESSION = "regression"
    NODATA = "no data"


@dataclass(frozen=True)
class Cell:
    """A family of runs that differ only by seed.

    ``in_target_b`` marks the regressions target (b) covers: at least 10 canary requests/s and
    at least +25% median latency or 3x the error ratio.
    """

    key: str
    title: str
    kind: CellKind
    template: Scenario
    runs: int
    seed_base: int
    in_target_b: bool = False

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
    in_target_b: bool = False


_T = "template"  # scenario name placeholder, replaced per run

_AA = (
    _Definition("aa-plain", "A/A plain, 100 rps", CellKind.AA, Scenario(_T)),
    _Definition("aa-ramp", "A/A traffic ramp 100→300 rps", CellKind.AA, Scenario(_T, ramp_to_rps=300.0)),
    _Definition(
        "aa-slowdown",
        "A/A shared 2x slowdown, min 5-12",
        CellKind.AA,
        Scenario(_T, shared_slowdown=(300.0, 720.0, 2.0)),
    ),
    _Definition(
        "aa-3000rps-2pct",
        "A/A-like 3000 rps, +2% median",
        CellKind.AA,
        Scenario(_T, total_rps=3000.0, canary=Regression(median_factor=1.02)),
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
    ),
)


def _regression(
    key: str, title: str, total_rps: float, reg: Regression, error_ratio: float = 0.005
) -> _Definition:
    template = Scenario(_T, total_rps=total_rps, error_ratio=error_ratio, canary=reg)
    canary_rps = template.total_rps * template.canary_share
    big = reg.median_factor >= 1.25 or reg.error_factor >= 3.0
    return _Definition(
        key,
        f"{title}, canary {canary_rps:g} rps",
        CellKind.REGRESSION,
        template,
        in_target_b=big and canary_rps >= 10.0,
    )


_REGRESSIONS = (
    _regression("med25-10", "median +25%", 100.0, Regression(median_factor=1.25)),
    _regression("med25-30", "median +25%", 300.0, Regression(median_factor=1.25)),
    _regression("med50-10", "median +50%", 100.0, Regression(median_factor=1.5)),
    _regression("med50-30", "median +50%", 300.0, Regression(median_factor=1.5)),
    _regression("tail-10", "tail 5% x4", 100.0, Regression(tail_fraction=0.05, tail_factor=4.0)),
    _regression("tail-30", "tail 5% x4", 300.0, Regression(tail_fraction=0.05, tail_factor=4.0)),
    _regression("err3-10", "errors 3x (1%→3%)", 100.0, Regression(error_factor=3.0), 0.01),
    _regression("err3-30", "errors 3x (1%→3%)", 300.0, Regression(error_factor=3.0), 0.01),
    _regression("err5-10", "errors 5x (1%→5%)", 100.0, Regression(error_factor=5.0), 0.01),
    _regression("err5-30", "errors 5x (1%→5%)", 300.0, Regression(error_factor=5.0), 0.01),
    _regression("med10-300", "median +10%", 3000.0, Regression(median_factor=1.1)),
    # Harder cells: little canary traffic, smaller changes.
    _regression("med25-2", "median +25%", 20.0, Regression(median_factor=1.25)),
    _regression("med15-10", "median +15%", 100.0, Regression(median_factor=1.15)),
    _regression("tail2-10", "tail 2% x3", 100.0, Regression(tail_fraction=0.02, tail_factor=3.0)),
    _regression("err3-2", "errors 3x (1%→3%)", 20.0, Regression(error_factor=3.0), 0.01),
    _regression("err2-10", "errors 2x (1%→2%)", 100.0, Regression(error_factor=2.0), 0.01),
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


def build_grid(aa_runs: int, seeds: int, nodata_runs: int) -> tuple[Cell, ...]:
    """The grid: ``aa_runs`` A/A runs in all, ``seeds`` runs per regression cell, and
    ``nodata_runs`` silent-canary runs. Cells with zero runs are left out."""
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
            seed_base=(index + 1) * SEED_STRIDE,
            in_target_b=d.in_target_b,
        )
        for index, d in enumerate(_DEFINITIONS)
    )
    return tuple(cell for cell in cells if cell.runs > 0)

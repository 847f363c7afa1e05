"""Aggregation of outcomes per cell and judge, the markdown table and the target checks.

"fail" is the false-alarm rate in an A/A cell and the detection rate in a regression cell;
"≤10 min" the share of runs failed within 10 minutes of the canary's start; "inc." the share
ending inconclusive; "min" the median minutes to a fail verdict over the runs that failed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy.stats import beta

from bench.detection.grid import Cell, CellKind
from bench.detection.outcome import Judge, Outcome, Status

FAST_MIN = 10.0
AA_FALSE_ALARM_TARGET = 0.01
LISTED = 20  # at most this many runs listed per notable-runs section


@dataclass(frozen=True)
class Stats:
    """One judge over a set of runs."""

    runs: int
    fails: int
    fast_fails: int
    inconclusive: int
    fail_minutes: tuple[float, ...]

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> Stats:
        items = list(outcomes)
        fails = [o for o in items if o.status is Status.FAIL]
        return cls(
            runs=len(items),
            fails=len(fails),
            fast_fails=sum(1 for o in fails if o.minutes <= FAST_MIN),
            inconclusive=sum(1 for o in items if o.status is Status.INCONCLUSIVE),
            fail_minutes=tuple(o.minutes for o in fails),
        )

    def rate(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0

    @property
    def fail_rate(self) -> float:
        return self.rate(self.fails)

    @property
    def fast_rate(self) -> float:
        return self.rate(self.fast_fails)

    @property
    def median_minutes(self) -> float | None:
        return statistics.median(self.fail_minutes) if self.fail_minutes else None


def pct(value: float) -> str:
    """A share as a compact percentage: ``0%``, ``2.5%``, ``100%``."""
    return f"{100.0 * value:.3g}%"


def minutes(value: float | None) -> str:
    """Median minutes, or an en dash when nothing failed."""
    return "–" if value is None else f"{value:g}"


def upper_bound(fails: int, runs: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate observed as ``fails`` of ``runs``."""
    if runs == 0 or fails >= runs:
        return 1.0
    return float(beta.ppf(confidence, fails + 1, runs - fails))


class Results:
    """Outcomes indexed by judge and cell."""

    def __init__(self, cells: Sequence[Cell], outcomes: Sequence[Outcome]) -> None:
        self.cells = tuple(cells)
        self.outcomes = tuple(outcomes)

    def of(self, judge: Judge, cells: Iterable[Cell]) -> list[Outcome]:
        keys = {cell.key for cell in cells}
        return [o for o in self.outcomes if o.judge is judge and o.cell in keys]

    def stats(self, judge: Judge, cells: Iterable[Cell]) -> Stats:
        return Stats.of(self.of(judge, cells))

    def kind(self, kind: CellKind) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell.kind is kind)

    @property
    def backend_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.decision.backend_error]


_HEADER = (
    "| cell | runs | monitor fail | ≤10 min | inc. | min "
    "| kayenta fail | inc. | min | flagger fail | ≤10 min | inc. | min |"
)


def _row(title: str, results: Results, cells: Sequence[Cell], bold: bool = False) -> str:
    m = results.stats(Judge.MONITOR, cells)
    k = results.stats(Judge.KAYENTA, cells)
    f = results.stats(Judge.FLAGGER, cells)
    values = [
        title, str(m.runs),
        pct(m.fail_rate), pct(m.fast_rate), pct(m.rate(m.inconclusive)), minutes(m.median_minutes),
        pct(k.fail_rate), pct(k.rate(k.inconclusive)), minutes(k.median_minutes),
        pct(f.fail_rate), pct(f.fast_rate), pct(f.rate(f.inconclusive)), minutes(f.median_minutes),
    ]  # fmt: skip
    if bold:
        values = [f"**{v}**" for v in values]
    return "| " + " | ".join(values) + " |"


def table(results: Results) -> list[str]:
    """The markdown table: one row per cell, then totals over A/A and regression runs."""
    lines = [_HEADER, "|" + "---|" * _HEADER.count(" | ") + "---|"]
    for kind in CellKind:
        for cell in results.kind(kind):
            lines.append(_row(cell.title, results, [cell]))
    for kind, label in ((CellKind.AA, "all A/A runs"), (CellKind.REGRESSION, "all regressions")):
        if results.kind(kind):
            lines.append(_row(label, results, results.kind(kind), bold=True))
    return lines


@dataclass(frozen=True)
class Target:
    """One target's verdict and the numbers behind it."""

    name: str
    met: bool
    lines: tuple[str, ...]


def _target_a(results: Results) -> Target:
    s = results.stats(Judge.MONITOR, results.kind(CellKind.AA))
    bound = upper_bound(s.fails, s.runs)
    met = s.runs > 0 and s.fail_rate <= AA_FALSE_ALARM_TARGET
    line = (
        f"monitor false alarms {s.fails}/{s.runs} A/A runs = {pct(s.fail_rate)} "
        f"(target ≤ {pct(AA_FALSE_ALARM_TARGET)}; 95% upper bound {pct(bound)})"
    )
    return Target("(a) false alarms ≤ 1% over all A/A runs", met, (line,))


def _target_b(results: Results) -> list[Target]:
    cells = [c for c in results.cells if c.in_target_b]
    lines, met = [], bool(cells)
    for cell in cells:
        s = results.stats(Judge.MONITOR, [cell])
        met &= s.fast_fails == s.runs
        lines.append(f"{cell.title}: {s.fast_fails}/{s.runs} failed within {FAST_MIN:g} min "
                     f"({pct(s.fast_rate)}), median {minutes(s.median_minutes)} min")  # fmt: skip
    regress = Target(
        "(b) every run of each regression cell with ≥ 10 canary rps and ≥ +25% median or ≥ 3x "
        "errors fails within 10 minutes",
        met,
        tuple(lines),
    )
    nodata = results.stats(Judge.MONITOR, results.kind(CellKind.NODATA))
    nodata_target = Target(
        "(b) no-data runs end inconclusive",
        nodata.runs > 0 and nodata.inconclusive == nodata.runs,
        (f"monitor: {nodata.inconclusive}/{nodata.runs} inconclusive",),
    )
    return [regress, nodata_target]


def _target_c(results: Results) -> Target:
    regressions, aa = results.kind(CellKind.REGRESSION), results.kind(CellKind.AA)
    m, k = results.stats(Judge.MONITOR, regressions), results.stats(Judge.KAYENTA, regressions)
    m_aa, k_aa = results.stats(Judge.MONITOR, aa), results.stats(Judge.KAYENTA, aa)
    behind = [
        c.title
        for c in regressions
        if results.stats(Judge.MONITOR, [c]).fails < results.stats(Judge.KAYENTA, [c]).fails
    ]
    detection = m.runs > 0 and m.fail_rate >= k.fail_rate and not behind
    m_min, k_min = m.median_minutes, k.median_minutes
    faster = m_min is not None and (k_min is None or m_min < k_min)
    alarms = m_aa.fails <= k_aa.fails
    lines = (
        f"detection rate: monitor {pct(m.fail_rate)} vs kayenta-style {pct(k.fail_rate)} "
        f"over {m.runs} regression runs; cells where the monitor detects less: "
        f"{', '.join(behind) or 'none'}",
        f"median minutes to fail: monitor {minutes(m_min)} vs kayenta-style {minutes(k_min)}",
        f"false alarms: monitor {m_aa.fails}/{m_aa.runs} vs kayenta-style {k_aa.fails}/{k_aa.runs}",
    )
    return Target(
        "(c) monitor ahead of kayenta-style: detects at least as often (in every cell), fails sooner, "
        "at equal or fewer false alarms",
        detection and faster and alarms,
        lines,
    )


def targets(results: Results) -> list[Target]:
    """The targets (a), (b) and (c), evaluated on the monitor's outcomes."""
    return [_target_a(results), *_target_b(results), _target_c(results)]


def _notable(title: str, outcomes: Sequence[Outcome]) -> list[str]:
    if not outcomes:
        return []
    lines = ["", f"{title} ({len(outcomes)}):", ""]
    for o in outcomes[:LISTED]:
        lines.append(f"- `{o.service}` {o.status} at {o.minutes:g} min: {o.decision.detail}")
    if len(outcomes) > LISTED:
        lines.append(f"- ... and {len(outcomes) - LISTED} more")
    return lines


def notable_runs(results: Results) -> list[str]:
    """Runs behind a miss: monitor false alarms, slow or missed target-(b) regressions, errors."""
    aa_fails = [o for o in results.of(Judge.MONITOR, results.kind(CellKind.AA))
                if o.status is Status.FAIL]  # fmt: skip
    target_b = [c for c in results.cells if c.in_target_b]
    slow = [o for o in results.of(Judge.MONITOR, target_b)
            if o.status is not Status.FAIL or o.minutes > FAST_MIN]  # fmt: skip
    nodata = [o for o in results.of(Judge.MONITOR, results.kind(CellKind.NODATA))
              if o.status is not Status.INCONCLUSIVE]  # fmt: skip
    return [
        *_notable("Monitor false alarms", aa_fails),
        *_notable("Monitor target-(b) regressions not failed within 10 minutes", slow),
        *_notable("Monitor no-data runs not inconclusive", nodata),
        *_notable("Verdicts shaped by a failed query (backend errors)", results.backend_errors),
    ]


def render(results: Results, preamble: Sequence[str]) -> str:
    """The whole markdown report: preamble, table, targets, notable runs."""
    lines = [*preamble, "", *table(results), "", "Targets (monitor):", ""]
    for target in targets(results):
        lines.append(f"- **{'PASS' if target.met else 'MISS'}** {target.name}")
        lines.extend(f"  - {line}" for line in target.lines)
    lines.extend(notable_runs(results))
    return "\n".join(lines) + "\n"

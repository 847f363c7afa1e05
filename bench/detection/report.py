"""Aggregation of outcomes per cell and judge, the markdown table and the target checks.

"fail" is the false-alarm rate in an A/A cell and the detection rate in a regression cell;
"≤5 min"/"≤10 min" the share of runs failed within 5 or 10 minutes of the canary's start;
"inc." the share ending inconclusive; "min" the median minutes to a fail verdict over the runs
that failed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy.stats import beta

from bench.detection.grid import Cell, CellKind
from bench.detection.outcome import Judge, Outcome, Status

FAST_MIN = 10.0
QUICK_MIN = 5.0
AA_FALSE_ALARM_TARGET = 0.01
REFERENCE_GAP = 0.10  # detection at 20 minutes within 10 points of the fixed-horizon reference
REFERENCE_CLEAR = 0.90  # where the reference at 10 minutes detects this often ...
MEDIAN_MINUTES = 5.0  # ... the monitor's median minutes to fail must be at most this
LISTED = 20  # at most this many runs listed per notable-runs section


@dataclass(frozen=True)
class Stats:
    """One judge over a set of runs."""

    runs: int
    fails: int
    fast_fails: int
    quick_fails: int
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
            quick_fails=sum(1 for o in fails if o.minutes <= QUICK_MIN),
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
    "| cell | runs | monitor fail | ≤5 min | ≤10 min | inc. | min | fixed-horizon fail (20 min) "
    "| fixed-horizon fail (10 min) | kayenta fail | flagger fail | min |"
)


def _row(title: str, results: Results, cells: Sequence[Cell], bold: bool = False) -> str:
    m = results.stats(Judge.MONITOR, cells)
    r, r10 = results.stats(Judge.REFERENCE, cells), results.stats(Judge.REFERENCE_10, cells)
    k, f = results.stats(Judge.KAYENTA, cells), results.stats(Judge.FLAGGER, cells)
    values = [
        title, str(m.runs),
        pct(m.fail_rate), pct(m.rate(m.quick_fails)), pct(m.fast_rate), pct(m.rate(m.inconclusive)),
        minutes(m.median_minutes), pct(r.fail_rate), pct(r10.fail_rate), pct(k.fail_rate),
        pct(f.fail_rate), minutes(f.median_minutes),
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


def _target_alarms(results: Results) -> Target:
    aa = results.kind(CellKind.AA)
    s = results.stats(Judge.MONITOR, aa)
    bound = upper_bound(s.fails, s.runs)
    traps = [c for c in aa if c.trap]
    trap_fails = {c.title: results.stats(Judge.MONITOR, [c]).fails for c in traps}
    met = s.runs > 0 and s.fail_rate <= AA_FALSE_ALARM_TARGET and not any(trap_fails.values())
    lines = (
        f"monitor false alarms {s.fails}/{s.runs} A/A runs = {pct(s.fail_rate)} "
        f"(target ≤ {pct(AA_FALSE_ALARM_TARGET)}; 95% upper bound {pct(bound)})",
        "fails in the traps: " + ", ".join(f"{title} {n}" for title, n in trap_fails.items()),
    )
    return Target("(a) false alarms ≤ 1% over all A/A runs, none in the traps", met, lines)


def _target_detection(results: Results) -> Target:
    lines: list[str] = []
    behind: list[str] = []
    for cell in results.kind(CellKind.REGRESSION):
        m = results.stats(Judge.MONITOR, [cell]).fail_rate
        r = results.stats(Judge.REFERENCE, [cell]).fail_rate
        k = results.stats(Judge.KAYENTA, [cell]).fail_rate
        if m < k or m < r - REFERENCE_GAP - 1e-9:
            behind.append(cell.title)
            lines.append(f"{cell.title}: monitor {pct(m)}, kayenta-style {pct(k)}, fixed-horizon {pct(r)}")
    m_all = results.stats(Judge.MONITOR, results.kind(CellKind.REGRESSION))
    r_all = results.stats(Judge.REFERENCE, results.kind(CellKind.REGRESSION))
    k_all = results.stats(Judge.KAYENTA, results.kind(CellKind.REGRESSION))
    lines.insert(
        0,
        f"over {m_all.runs} regression runs: monitor {pct(m_all.fail_rate)}, fixed-horizon "
        f"{pct(r_all.fail_rate)}, kayenta-style {pct(k_all.fail_rate)}; cells behind: {len(behind)}",
    )
    return Target(
        "(b) in every regression cell, detection at 20 minutes ≥ kayenta-style's and within 10 points "
        "of the fixed-horizon reference",
        bool(results.kind(CellKind.REGRESSION)) and not behind,
        tuple(lines),
    )


def _target_speed(results: Results) -> Target:
    lines: list[str] = []
    met = True
    for cell in results.kind(CellKind.REGRESSION):
        r10 = results.stats(Judge.REFERENCE_10, [cell])
        if r10.runs == 0 or r10.fail_rate < REFERENCE_CLEAR:
            continue
        m = results.stats(Judge.MONITOR, [cell])
        median = m.median_minutes
        ok = median is not None and median <= MEDIAN_MINUTES and m.fails * 2 > m.runs
        met &= ok
        if not ok:
            lines.append(
                f"{cell.title}: median {minutes(median)} min, fixed-horizon at 10 min {pct(r10.fail_rate)}"
            )
    checked = sum(
        1
        for c in results.kind(CellKind.REGRESSION)
        if results.stats(Judge.REFERENCE_10, [c]).fail_rate >= REFERENCE_CLEAR
    )
    lines.insert(0, f"{checked} cells where the fixed-horizon reference detects ≥ 90% at 10 minutes")
    return Target(
        "(c) median minutes to fail ≤ 5 where the reference detects ≥ 90% at 10 minutes", met, tuple(lines)
    )


def _target_undecided(results: Results) -> list[Target]:
    nodata = results.stats(Judge.MONITOR, results.kind(CellKind.NODATA))
    silent = Target(
        "(d) a silent canary ends inconclusive",
        nodata.runs > 0 and nodata.inconclusive == nodata.runs,
        (f"monitor: {nodata.inconclusive}/{nodata.runs} inconclusive",),
    )
    low = [c for c in results.kind(CellKind.AA) if c.key == "aa-low"]
    outcomes = results.of(Judge.MONITOR, low)
    estimated = [
        o for o in outcomes if o.status is Status.INCONCLUSIVE and "more minutes" in o.decision.detail
    ]
    passed = [o for o in outcomes if o.status is Status.PASS]
    harm = Target(
        "(d) low traffic that cannot rule out harm ends inconclusive with a minutes estimate",
        bool(outcomes)
        and len(estimated) + len(passed) == len(outcomes)
        and len(estimated) * 2 > len(outcomes),
        (
            f"low-traffic A/A: {len(estimated)}/{len(outcomes)} inconclusive with a minutes estimate, "
            f"{len(passed)} passed (bound within harm)",
        ),
    )
    return [silent, harm]


def targets(results: Results) -> list[Target]:
    """The targets (a) to (d), evaluated on the monitor's outcomes."""
    return [
        _target_alarms(results),
        _target_detection(results),
        _target_speed(results),
        *_target_undecided(results),
    ]


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
    """Runs behind a miss: monitor false alarms, missed regressions, no-data runs, errors."""
    aa_fails = [o for o in results.of(Judge.MONITOR, results.kind(CellKind.AA))
                if o.status is Status.FAIL]  # fmt: skip
    missed = [o for o in results.of(Judge.MONITOR, results.kind(CellKind.REGRESSION))
              if o.status is not Status.FAIL]  # fmt: skip
    nodata = [o for o in results.of(Judge.MONITOR, results.kind(CellKind.NODATA))
              if o.status is not Status.INCONCLUSIVE]  # fmt: skip
    return [
        *_notable("Monitor false alarms", aa_fails),
        *_notable("Monitor regressions not failed", missed),
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

"""The backtest bench's markdown report: the history, one row per judge, then per deploy and per check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import binomtest

from bench.backtest.fixed import WINDOW_MIN, FixedResult
from bench.backtest.score import BacktestScore, DeployScore, pooled_false_alarms
from bench.detection.outcome import Status
from monitor.backtest.result import Suggestion
from monitor.simulate.history import SimulatedHistory


@dataclass(frozen=True)
class MonitorRun:
    """One backtest of the history with one profile, scored, and how long it took."""

    label: str
    score: BacktestScore
    seconds: float
    suggestions: tuple[Suggestion, ...] = ()


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100.0 * value:.1f}%"


def rate_with_interval(events: int, trials: int) -> str:
    """``events/trials = rate [95 % exact interval]``, or a dash without trials."""
    if trials == 0:
        return "–"
    low, high = binomtest(events, trials).proportion_ci(method="exact")
    return f"{events}/{trials} = {pct(events / trials)} [{pct(low)}, {pct(high)}]"


def _preamble(history: SimulatedHistory, samples: int, times: Mapping[str, float]) -> list[str]:
    spec = history.spec
    canaries = [d for d in history.deploys if d.overlap is not None]
    shares = sorted({f"{d.canary_share:.0%}" for d in canaries if d.canary_share is not None})
    kinds = ", ".join(f"{d.version} {d.regression} ({d.mode})" for d in history.regressions)
    return [
        "## Backtest benchmark",
        "",
        f"A simulated history of one service (`{spec.service}`, seed {spec.seed}): {spec.days:g} days to "
        f"{history.span.end:%Y-%m-%d %H:%M} UTC, scraped every {spec.scrape_interval_s} s, "
        f"{spec.base_rps:g} requests/s on average with a daily cycle (±{spec.daily_amplitude:.0%}), "
        f"weekends at {spec.weekend_factor:.0%}, slow drift and {len(history.spikes)} traffic spikes "
        f"(2-4x for 10-40 minutes; latency rises a little with load). {len(history.deploys)} deploys: "
        f"{len(canaries)} canaries (both versions for 30-60 minutes, the new one at "
        f"{'/'.join(shares) or '–'} of traffic), {len(history.deploys) - len(canaries)} plain switches; "
        f"{len(history.regressions)} regress: {kinds or 'none'}. {samples:,} samples backfilled with "
        "promtool into a real Prometheus.",
        "",
        f"Wall time: generate {times['generate']:.1f} s, OpenMetrics and promtool {times['backfill']:.1f} s, "
        f"Prometheus start {times['start']:.1f} s.",
    ]


_SUMMARY_HEADER = (
    "| judge | deploys found | canary phase right | regressions failed | healthy deploys failed "
    "| A/A alarms (per check and run) | time |"
)


def summary(history: SimulatedHistory, runs: Sequence[MonitorRun], fixed: FixedResult | None,
            fixed_s: float) -> list[str]:  # fmt: skip
    """One row per judge."""
    n = len(history.deploys)
    n_reg = len(history.regressions)
    lines = [_SUMMARY_HEADER, "|---|---|---|---|---|---|---|"]
    for run in runs:
        s = run.score
        fa, trials = pooled_false_alarms(s.calibration)
        lines.append(
            f"| {run.label} | {s.found}/{n} (+{len(s.spurious)} spurious) | {s.modes_right}/{s.found} "
            f"| {s.caught}/{n_reg} | {s.false_alarms}/{n - n_reg} | {rate_with_interval(fa, trials)} "
            f"| {run.seconds:.1f} s |"
        )
    if fixed is not None:
        lines.append(
            f"| fixed thresholds (Flagger-style, told the true deploys) | – | – | {fixed.caught}/{n_reg} "
            f"| {fixed.false_alarms}/{n - n_reg} | {rate_with_interval(fixed.aa_failed, fixed.aa_windows)} "
            f"{WINDOW_MIN}-minute windows | {fixed_s:.1f} s |"
        )
    return lines


def _verdict(d: DeployScore) -> str:
    if d.replay is None:
        return "not found"
    minutes = d.minutes_to_verdict
    return f"{d.replay.verdict}" + ("" if minutes is None else f" at {minutes:.0f} min")


def per_deploy(run: MonitorRun, fixed: FixedResult | None) -> list[str]:
    """One row per true deploy: the truth, what discovery found, the replay and the fixed judge."""
    fixed_by_version = {d.version: v for d, v in fixed.deploys} if fixed is not None else {}
    lines = [
        "| # | version | start (UTC) | truth | found as | replay | fixed thresholds |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in run.score.deploys:
        t = d.truth
        truth = f"{t.mode}" + (f" {t.canary_share:.0%}" if t.canary_share else "")
        truth += f", **{t.regression}**" if t.regressed else ", healthy"
        found = "–" if d.replay is None else str(d.replay.deploy.mode)
        f = fixed_by_version.get(t.version)
        fixed_cell = (
            "–" if f is None else f"{f.status}" + (f" at {f.minute} min" if f.status is Status.FAIL else "")
        )
        lines.append(
            f"| {t.number} | {t.version} | {t.start:%m-%d %H:%M} | {truth} | {found} | {_verdict(d)} "
            f"| {fixed_cell} |"
        )
    return lines


def per_check(run: MonitorRun) -> list[str]:
    """The A/A calibration per check and baseline, and the suggestion for each check."""
    lines = [
        "| check | baseline | A/A false alarms [95% interval] | detectable effect (80% power) |",
        "|---|---|---|---|",
    ]
    for c in sorted(run.score.calibration, key=lambda c: (c.check, c.baseline)):
        effect = "–" if c.detectable_effect is None else f"{c.detectable_effect:.3g}"
        lines.append(
            f"| {c.check} | {c.baseline} | {rate_with_interval(c.false_alarms, c.trials)} | {effect} |"
        )
    if run.suggestions:
        lines += ["", "Suggestions:", ""]
        lines += [f"- `{s.check}`: {s.reason}" for s in run.suggestions]
    return lines


def render(history: SimulatedHistory, samples: int, times: Mapping[str, float], runs: Sequence[MonitorRun],
           fixed: FixedResult | None) -> str:  # fmt: skip
    """The whole report."""
    lines = [*_preamble(history, samples, times), "", *summary(history, runs, fixed, times.get("fixed", 0.0))]
    lines += [
        "",
        "*Regressions failed* and *healthy deploys failed* count replayed verdicts of `fail` (the ground "
        "truth says which deploys regressed); every A/A run compares a version with itself, so each of "
        "its alarms is false.",
    ]
    if runs:
        lines += ["", f"Per deploy ({runs[0].label}):", "", *per_deploy(runs[0], fixed)]
        lines += ["", f"A/A calibration per check ({runs[0].label}):", "", *per_check(runs[0])]
    return "\n".join(lines) + "\n"

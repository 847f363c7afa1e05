"""The backtest bench's markdown report: the history, one row per judge over the whole history, the
held-out comparison of the shipped and the calibrated profile, then per deploy and per check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.backtest.fixed import WINDOW_MIN, FixedResult
from bench.backtest.score import BacktestScore, DeployScore, aa_baselines, aa_failed
from bench.detection.outcome import Status
from monitor.backtest.result import Suggestion
from monitor.models import Window
from monitor.simulate.history import SimulatedHistory
from monitor.stats.power import false_alarm_interval


@dataclass(frozen=True)
class MonitorRun:
    """One backtest of (part of) the history with one profile, scored, and how long it took.

    ``baseline`` is the before/after baseline the profile's deploys use (the environment's setting,
    ``auto`` resolved with the profile's calibration).
    """

    label: str
    score: BacktestScore
    seconds: float
    suggestions: tuple[Suggestion, ...] = ()
    baseline: str = "previous"


@dataclass(frozen=True)
class HeldOut:
    """The out-of-sample comparison: ``fit`` backtested the shipped profile over ``fit_span`` (the first
    half) for its suggestions; ``runs`` judged the shipped and the calibrated profile over ``span`` (the
    second half), which the fit never saw."""

    fit_span: Window
    span: Window
    fit: MonitorRun
    runs: tuple[MonitorRun, ...]


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100.0 * value:.1f}%"


def rate_with_interval(events: int, trials: int) -> str:
    """``events/trials = rate [95 % exact interval]``, or a dash without trials."""
    if trials == 0:
        return "–"
    low, high = false_alarm_interval(events, trials)
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
    "| A/A runs failed, per baseline [95% interval] | time |"
)


def aa_cell(run: MonitorRun) -> str:
    """The A/A false-alarm rate per run for each baseline choice, the profile's own marked ``(used)``."""
    cells = []
    for baseline in aa_baselines(run.score.aa_runs):
        used = " (used)" if baseline == run.baseline else ""
        cells.append(f"{baseline}{used}: {rate_with_interval(*aa_failed(run.score.aa_runs, baseline))}")
    return "; ".join(cells) or "–"


def _row(run: MonitorRun) -> str:
    s = run.score
    n, n_reg = len(s.deploys), len(s.regressions)
    return (
        f"| {run.label} | {s.found}/{n} (+{len(s.spurious)} spurious) | {s.modes_right}/{s.found} "
        f"| {s.caught}/{n_reg} | {s.false_alarms}/{n - n_reg} | {aa_cell(run)} | {run.seconds:.1f} s |"
    )


def summary(runs: Sequence[MonitorRun], fixed: FixedResult | None, fixed_s: float) -> list[str]:
    """One row per judge; each row counts the deploys of the span its backtest covered."""
    lines = [_SUMMARY_HEADER, "|---|---|---|---|---|---|---|", *map(_row, runs)]
    if fixed is not None:
        n = len(fixed.deploys)
        n_reg = sum(d.regressed for d, _ in fixed.deploys)
        lines.append(
            f"| fixed thresholds (Flagger-style, told the true deploys) | – | – | {fixed.caught}/{n_reg} "
            f"| {fixed.false_alarms}/{n - n_reg} | {rate_with_interval(fixed.aa_failed, fixed.aa_windows)} "
            f"{WINDOW_MIN}-minute windows | {fixed_s:.1f} s |"
        )
    return lines


_AA_NOTE = (
    "*A/A runs failed* counts runs, not checks: an A/A run compares a version with itself, and it is a "
    "false alarm when its verdict is `fail` (a critical check failed it, however many did). Each "
    "baseline choice has its own rate with the exact (Clopper-Pearson) 95 % interval over its runs; the "
    "choices are not pooled, as their runs share pseudo-canary windows. *(used)* marks the baseline the "
    "profile's before/after deploys use."
)


def _span(window: Window) -> str:
    return f"{window.start:%m-%d %H:%M} to {window.end:%m-%d %H:%M} UTC"


def held_out(part: HeldOut) -> list[str]:
    """The shipped and the calibrated profile on the second half, the suggestions fitted on the first."""
    s = part.runs[0].score
    fit_runs = len(part.fit.score.aa_runs)
    lines = [
        f"Out of sample: the suggestions were fitted on the first half of the history ({_span(part.fit_span)}"
        f", its {fit_runs} A/A runs); both profiles are then judged on the second half ({_span(part.span)}: "
        f"{len(s.deploys)} deploys, {len(s.regressions)} regressing, fresh A/A runs), which the fit never "
        "saw. The calibrated row is therefore a held-out score, not the fit's own data.",
        "",
        _SUMMARY_HEADER,
        "|---|---|---|---|---|---|---|",
        *map(_row, part.runs),
    ]
    if part.fit.suggestions:
        lines += ["", f"Suggestions fitted on the first half ({part.fit.seconds:.1f} s):", ""]
        lines += [f"- `{x.check}`: {x.reason}" for x in part.fit.suggestions]
    else:
        lines += ["", "The first half gave no suggestion: there is no calibrated profile to judge."]
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
    """The A/A calibration per check and baseline (each check's own alarms: a run may alarm on several
    checks, so these do not add up to the per-run rate of the summary)."""
    lines = [
        "| check | baseline | A/A runs it alarmed on [95% interval] | detectable effect (80% power) |",
        "|---|---|---|---|",
    ]
    for c in sorted(run.score.calibration, key=lambda c: (c.check, c.baseline)):
        effect = "–" if c.detectable_effect is None else f"{c.detectable_effect:.3g}"
        lines.append(
            f"| {c.check} | {c.baseline} | {rate_with_interval(c.false_alarms, c.trials)} | {effect} |"
        )
    return lines


def render(history: SimulatedHistory, samples: int, times: Mapping[str, float], runs: Sequence[MonitorRun],
           fixed: FixedResult | None, part: HeldOut | None = None) -> str:  # fmt: skip
    """The whole report."""
    lines = [*_preamble(history, samples, times), "", *summary(runs, fixed, times.get("fixed", 0.0))]
    lines += [
        "",
        "*Regressions failed* and *healthy deploys failed* count replayed verdicts of `fail` (the ground "
        "truth says which deploys regressed). " + _AA_NOTE,
    ]
    if part is not None:
        lines += ["", *held_out(part)]
    if runs:
        lines += ["", f"Per deploy ({runs[0].label}):", "", *per_deploy(runs[0], fixed)]
        lines += [
            "",
            f"A/A calibration per check ({runs[0].label}; per check, so a run that alarmed on two checks "
            "counts in both rows):",
            "",
            *per_check(runs[0]),
        ]
    return "\n".join(lines) + "\n"

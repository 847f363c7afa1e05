"""Typed profile objects; see :mod:`monitor.profiles` for the YAML format."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from monitor.models import CheckPurpose, ComparisonKind, Direction, Signal
from monitor.stats.multiple import CRITICAL_SHARE, EARLY_RELEVANCE, FINAL_SHARE


class FromSpans(StrEnum):
    """What a metric check reads from the version's server spans when no series matched at all."""

    REQUESTS = "requests"  # their count (traffic)
    ERRORS = "errors"  # failed ones per span (the error ratio)
    LATENCY = "latency"  # their durations' histogram


class NewItems(StrEnum):
    """What an item the baseline never had (a template, an operation, a downstream edge) is."""

    REGRESS = "regress"  # a regression when clear (a new ERROR template, a new exception type)
    EVIDENCE = "evidence"  # listed as a finding, never failing (a new endpoint, a new callee)


@dataclass(frozen=True)
class CheckSpec:
    """One check of a profile. Which query fields are set depends on ``comparison``.

    ``allowed_effect`` is the relative increase tolerated; ``allowed_decrease`` the relative fall
    tolerated when decreases regress (0.8: down to a fifth; default the inverse of the increase).
    """

    name: str
    comparison: ComparisonKind
    signal: Signal = Signal.METRICS
    purpose: CheckPurpose = CheckPurpose.REGRESSION
    description: str = ""
    events: str | None = None
    exposure: str | None = None
    buckets: str | None = None
    series: str | None = None
    direction: Direction = Direction.INCREASE
    critical: bool = False
    weight: float = 1.0
    allowed_effect: float = 0.0
    negligible_value: float = 0.0
    min_data: float = 1.0
    optional: bool = False
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)
    unit: str = ""
    allowed_decrease: float | None = None
    new_items: NewItems = NewItems.REGRESS
    from_spans: FromSpans | None = None
    # The registered kind that fetches and judges it, when neither its comparison nor its name
    # says (a check added to a request, such as an SLO's slo_burn; monitor.profiles.kinds.key_of).
    kind: str | None = None

    @property
    def lower_allowed(self) -> float:
        """The ratio below which a decrease is beyond tolerance."""
        if self.allowed_decrease is not None:
            return 1.0 - self.allowed_decrease
        return 1.0 / (1.0 + self.allowed_effect)

    @property
    def decisive(self) -> bool:
        """Whether this check can fail a run (and so takes a share of the false-alarm budget)."""
        return self.purpose is CheckPurpose.REGRESSION and (self.critical or self.weight > 0)

    @property
    def alpha_weight(self) -> float:
        """This check's claim on the run's false-alarm budget (a critical check claims at least 1)."""
        if not self.decisive:
            return 0.0
        return max(self.weight, 1.0) if self.critical else self.weight


@dataclass(frozen=True)
class DecisionPolicy:
    """How check results become a verdict, and how the false-alarm budget is spent.

    ``final_share`` of a run's alpha goes to the last look's tests on the whole window, the rest
    to the earlier looks; ``critical_share`` of each look's alpha to the critical checks
    (:mod:`monitor.stats.multiple`). ``early_relevance`` is the confidence an early look needs
    that an effect is beyond its allowance before it fails a run (the last look uses the estimate).
    """

    pass_score: float = 95.0
    marginal_score: float = 75.0
    early_pass: bool = True
    min_duration_s: float = 600.0
    # Canary mode splits counts and histograms into periods of this length, so that a traffic
    # split changing mid-window is accounted for; at least 4x the scrape interval; 0 disables.
    period_s: float = 300.0
    final_share: float = FINAL_SHARE
    critical_share: float = CRITICAL_SHARE
    # How sure an early look must be that an effect is beyond its allowance (a one-sided bound).
    early_relevance: float = EARLY_RELEVANCE


class Unproven(StrEnum):
    """What a run that would pass does when its data cannot rule out harm."""

    INCONCLUSIVE = "inconclusive"  # production: no pass without proof
    WARN = "warn"  # lower environments: pass, with the warning in the summary


@dataclass(frozen=True)
class HarmPolicy:
    """The regressions a pass must rule out, per environment (DESIGN.md: a pass states what it rules out).

    ``counts`` and ``latency`` are ratios canary/baseline (2.0: twice the error ratio; 1.25: a
    quantile 25% slower). Every required critical check of those kinds must have its bound
    (:class:`monitor.models.Bound`) within them for a clean pass; otherwise ``unproven`` says
    what happens.
    """

    counts: float = 2.0
    latency: float = 1.25
    unproven: Unproven = Unproven.WARN


@dataclass(frozen=True)
class TrafficPolicy:
    """What share of traffic the canary should get, and how far off makes a run suspect."""

    expected_canary_share: float | None = None
    tolerance_factor: float = 2.0


@dataclass(frozen=True)
class LabelNames:
    """The label names a profile's metrics use: the service's, the version's and any others.

    ``others`` maps template keys to label names: ``status_code: code`` makes
    ``$status_code_label`` expand to ``code``.
    """

    service: str
    version: str
    others: tuple[tuple[str, str], ...] = ()

    def placeholders(self) -> dict[str, str]:
        """``$<key>_label`` template values, the service's and version's included."""
        pairs = (("service", self.service), ("version", self.version), *self.others)
        return {f"{key}_label": name for key, name in pairs}


@dataclass(frozen=True)
class Profile:
    """A validated analysis profile."""

    name: str
    source: str
    labels: LabelNames
    checks: tuple[CheckSpec, ...]
    alpha: float = 0.01
    description: str = ""
    decision: DecisionPolicy = field(default_factory=DecisionPolicy)
    traffic: TrafficPolicy = field(default_factory=TrafficPolicy)
    # A calibration's before/after baseline ("previous", "day", "week"), written by a backtest into
    # the profile it suggests; an environment or registration asking for ``auto`` gets it.
    baseline: str | None = None

"""What to analyse, and the one place an analysis request is built.

``monitor analyze``, the daemon's engine and anything else that runs an analysis build their
:class:`AnalysisRequest` here, from three things: what the settings file adds to every analysis
(:class:`RequestDefaults`), the profile, and what is analysed (a deployment's registration, or the
command line's versions and windows). Built in one place, the command line and the daemon cannot
drift apart: the same config judges a deployment the same way in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.checks.kind import AddedCheck
from monitor.checks.probes import probe_checks
from monitor.checks.slo import slo_checks
from monitor.environments import Environments
from monitor.errors import InputError
from monitor.models import BaselineChoice, Deployment, Mode, Strategy, Window
from monitor.probes.targets import deployment_targets
from monitor.profiles import CheckSpec, Profile
from monitor.profiles.model import HarmPolicy, TrafficPolicy
from monitor.slo.model import SLO

if TYPE_CHECKING:  # only read, never built here: keeps the config's parsing off this import
    from monitor.config import Settings


@dataclass(frozen=True)
class AnalysisRequest:
    """A canary-vs-baseline analysis.

    ``baseline_window`` None means canary mode: both versions over ``canary_window``. Otherwise
    before/after mode: the baseline version over its own window, fixed (``previous``, or a window
    given by hand) or, for a seasonal ``baseline_choice`` (``day``, ``week``), the canary's window
    as far back as the choice says, growing with it look by look. ``harm`` is what a pass must
    rule out, from the environment. ``added`` are checks the profile does not list (smoke
    probes', SLOs'); ``preview_url`` marks a blue/green deployment judged before its switch.
    """

    service: str
    canary_version: str
    baseline_version: str
    canary_window: Window
    profile: Profile
    baseline_window: Window | None = None
    interval_s: float | None = None
    environment: str | None = None
    deployment_id: str | None = None
    extra_matchers: tuple[tuple[str, str], ...] = ()
    harm: HarmPolicy = field(default_factory=HarmPolicy)
    baseline_choice: BaselineChoice | None = None
    added: tuple[AddedCheck, ...] = ()
    preview_url: str | None = None

    @property
    def checks(self) -> tuple[CheckSpec, ...]:
        """Every check of the analysis: the profile's, then the added ones."""
        return (*self.profile.checks, *(a.spec for a in self.added))

    @property
    def subjects(self) -> dict[str, object]:
        """What each added check judges, by its name."""
        return {a.spec.name: a.subject for a in self.added}

    @property
    def mode(self) -> Mode:
        return Mode.CANARY if self.baseline_window is None else Mode.BEFORE_AFTER

    def windows_at(self, at: datetime) -> tuple[Window, Window]:
        """``(canary, baseline)`` windows as seen by a look at time ``at``."""
        canary = Window(self.canary_window.start, at)
        choice = self.baseline_choice if self.baseline_window else None
        if choice is not None and choice.offset_s is not None:
            # The same minutes a day (week) earlier: each look compares like time of day with like.
            return canary, choice.earlier(canary)
        return canary, (self.baseline_window or canary)


def resolve_baseline(choice: BaselineChoice, suggestion: str | None) -> BaselineChoice:
    """The concrete baseline of a setting: ``choice`` itself, unless it is ``auto``.

    ``auto`` is ``previous`` unless ``suggestion`` (a calibration's: the ``baseline`` a backtest
    found to alarm least on the service's own history, kept in the profile it wrote) names
    ``previous``, ``day`` or ``week``; anything else it may say is ignored, as no calibration.
    """
    if choice is not BaselineChoice.AUTO:
        return choice
    concrete = {c.value: c for c in BaselineChoice if c is not BaselineChoice.AUTO}
    return concrete.get(suggestion or "", BaselineChoice.PREVIOUS)


def seasonal_problem(choice: BaselineChoice, canary_window: Window, switched_at: datetime) -> str | None:
    """Why a seasonal ``choice`` cannot serve ``canary_window`` after a switch at ``switched_at``, or None.

    The window a day (week) earlier must end before the switch: past it, the old version's data
    would stop (or, in a rolling deploy, mix with the new one's) halfway through the comparison.
    """
    offset_s = choice.offset_s
    if offset_s is None:
        return None
    reach_s = (canary_window.end - switched_at).total_seconds()
    if reach_s <= offset_s:
        return None
    return (
        f"the {choice.value} baseline needs the analysis to end within {offset_s / 3600:g} h of the "
        f"switch, and it ends {reach_s / 3600:g} h after; shorten it or use the week baseline"
        if choice is BaselineChoice.DAY
        else "the week baseline needs the analysis to end within 7 days of the switch; shorten it"
    )


def choose_baseline(
    setting: BaselineChoice,
    suggestion: str | None,
    canary_window: Window,
    switched_at: datetime,
    unserved: Callable[[BaselineChoice], str | None] | None = None,
) -> tuple[BaselineChoice, str | None]:
    """The baseline the daemon compares with for a registration's ``setting``, and why the one
    ``setting`` resolves to (:func:`resolve_baseline`) cannot serve ``canary_window`` (None: it can).

    Why not: :func:`seasonal_problem`, else what ``unserved`` says of the choice (the backtest knows
    whether the old version served the earlier window). ``auto`` then falls back to ``previous``;
    a choice named by hand is kept, and its caller refuses it.
    """
    choice = resolve_baseline(setting, suggestion)
    why = seasonal_problem(choice, canary_window, switched_at)
    if why is None and unserved is not None:
        why = unserved(choice)
    if why is not None and setting is BaselineChoice.AUTO:
        return BaselineChoice.PREVIOUS, why
    return choice, why


def baseline_window(choice: BaselineChoice, canary_window: Window, switched_at: datetime) -> Window:
    """The old version's window for a before/after analysis of ``canary_window`` (a pure function).

    ``previous``: just before ``switched_at`` (the deploy), as long as the canary window. ``day``,
    ``week``: the canary window itself, 24 hours or 7 days earlier. :class:`InputError` for
    ``auto`` (resolve it first) and for a seasonal window that would reach past the switch.

    Whether the old version served all of a seasonal window is not checked here: that needs the
    version's traffic history, a query per registration; the backtest checks it
    (:func:`monitor.backtest.replay.deploy_windows`) and says so where it did not.
    """
    if choice is BaselineChoice.AUTO:
        raise InputError("baseline auto must be resolved first (resolve_baseline)")
    if (problem := seasonal_problem(choice, canary_window, switched_at)) is not None:
        raise InputError(problem)
    if choice.offset_s is None:
        length = timedelta(seconds=canary_window.duration_s)
        return Window(switched_at - length, switched_at)
    return choice.earlier(canary_window)


@dataclass(frozen=True)
class RequestDefaults:
    """What the settings file adds to every analysis, whoever runs it.

    ``matchers`` go into every query before a deployment's own labels; ``expected_canary_share``
    replaces the profile's (``traffic:`` in the config); ``environments`` say what a pass must
    rule out in each environment; ``slos`` are the config's SLOs, a ``slo_burn`` check each for
    the analyses of their service.
    """

    matchers: tuple[tuple[str, str], ...] = ()
    expected_canary_share: float | None = None
    environments: Environments = field(default_factory=Environments)
    slos: tuple[SLO, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestDefaults:
        """The defaults of a loaded settings file."""
        return cls(
            matchers=settings.matchers,
            expected_canary_share=settings.expected_canary_share,
            environments=Environments(settings.environments),
            slos=settings.slos,
        )

    def profile(self, profile: Profile) -> Profile:
        """``profile`` with the settings' overrides applied."""
        if self.expected_canary_share is None:
            return profile
        traffic = TrafficPolicy(self.expected_canary_share, profile.traffic.tolerance_factor)
        return replace(profile, traffic=traffic)


def build_request(
    defaults: RequestDefaults,
    profile: Profile,
    *,
    service: str,
    canary_version: str,
    baseline_version: str,
    canary_window: Window,
    baseline_window: Window | None = None,
    interval_s: float | None = None,
    environment: str | None = None,
    deployment_id: str | None = None,
    labels: Iterable[tuple[str, str]] = (),
    baseline_choice: BaselineChoice | None = None,
    added: tuple[AddedCheck, ...] = (),
    preview_url: str | None = None,
) -> AnalysisRequest:
    """The request for one analysis; ``labels`` are a registration's (prefixed keys are skipped).

    ``baseline_choice`` names how ``baseline_window`` was chosen (:func:`baseline_window`), for the
    verdict document; a seasonal choice also makes the baseline window follow the canary's looks.
    The service's SLOs add their ``slo_burn`` checks after ``added``, limited as the environment says.
    """
    burn_limit = defaults.environments.slo_burn_limit(environment)
    return AnalysisRequest(
        service=service,
        canary_version=canary_version,
        baseline_version=baseline_version,
        canary_window=canary_window,
        profile=defaults.profile(profile),
        baseline_window=baseline_window,
        interval_s=interval_s,
        environment=environment,
        deployment_id=deployment_id,
        # Prefixed label keys ("rollback/...") are metadata for actions, not matchers.
        extra_matchers=(*defaults.matchers, *((k, v) for k, v in labels if "/" not in k)),
        harm=defaults.environments.harm(environment),
        baseline_choice=baseline_choice,
        added=(*added, *slo_checks(defaults.slos, service, burn_limit)),
        preview_url=preview_url,
    )


def deployment_request(
    deployment: Deployment, profile: Profile, defaults: RequestDefaults | None = None
) -> AnalysisRequest:
    """The analysis a registered deployment asks for: canary mode for canaries, before/after otherwise.

    Before/after, the old version's window is the registration's baseline choice (``auto``: the
    profile's calibration, else ``previous``, the window just before the switch as long as the
    analysis may run).
    """
    spec = deployment.spec
    start = spec.started_at + timedelta(seconds=spec.warmup_s)
    window = Window(start, start + timedelta(seconds=spec.max_duration_s))
    baseline, choice = None, None
    if spec.strategy is not Strategy.CANARY:
        # A registration asking for a seasonal baseline by name was refused when too long; one
        # that left it to the calibration gets the plain window instead.
        choice, _ = choose_baseline(spec.baseline, profile.baseline, window, spec.started_at)
        baseline = baseline_window(choice, window, spec.started_at)
    decision = replace(profile.decision, min_duration_s=spec.min_duration_s)
    # A probe whose old version answers at an address of its own gets its latency compared.
    compared = [probe.name for probe in spec.probes if deployment_targets(probe, spec).baseline]
    return build_request(
        defaults or RequestDefaults(),
        replace(profile, decision=decision),
        service=spec.service,
        canary_version=spec.version,
        baseline_version=spec.baseline_version,
        canary_window=window,
        baseline_window=baseline,
        interval_s=spec.interval_s,
        environment=spec.environment,
        deployment_id=deployment.id,
        labels=spec.labels,
        baseline_choice=choice,
        added=probe_checks(spec.probes, compared),
        preview_url=spec.preview_url,
    )

"""What to analyse, and the one place an analysis request is built.

``monitor analyze``, the daemon's engine and anything else that runs an analysis build their
:class:`AnalysisRequest` here, from three things: what the settings file adds to every analysis
(:class:`RequestDefaults`), the profile, and what is analysed (a deployment's registration, or the
command line's versions and windows). Built in one place, the command line and the daemon cannot
drift apart: the same config judges a deployment the same way in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.environments import Environments
from monitor.models import Deployment, Mode, Strategy, Window
from monitor.profiles import Profile
from monitor.profiles.model import HarmPolicy, TrafficPolicy

if TYPE_CHECKING:  # only read, never built here: keeps the config's parsing off this import
    from monitor.config import Settings


@dataclass(frozen=True)
class AnalysisRequest:
    """A canary-vs-baseline analysis.

    ``baseline_window`` None means canary mode: both versions over ``canary_window``. Otherwise
    before/after mode: the baseline version over its own (fixed) window. ``harm`` is what a
    pass must rule out, from the environment.
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

    @property
    def mode(self) -> Mode:
        return Mode.CANARY if self.baseline_window is None else Mode.BEFORE_AFTER

    def windows_at(self, at: datetime) -> tuple[Window, Window]:
        """``(canary, baseline)`` windows as seen by a look at time ``at``."""
        canary = Window(self.canary_window.start, at)
        return canary, (self.baseline_window or canary)


@dataclass(frozen=True)
class RequestDefaults:
    """What the settings file adds to every analysis, whoever runs it.

    ``matchers`` go into every query before a deployment's own labels; ``expected_canary_share``
    replaces the profile's (``traffic:`` in the config); ``environments`` say what a pass must
    rule out in each environment.
    """

    matchers: tuple[tuple[str, str], ...] = ()
    expected_canary_share: float | None = None
    environments: Environments = field(default_factory=Environments)

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestDefaults:
        """The defaults of a loaded settings file."""
        return cls(
            matchers=settings.matchers,
            expected_canary_share=settings.expected_canary_share,
            environments=Environments(settings.environments),
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
) -> AnalysisRequest:
    """The request for one analysis; ``labels`` are a registration's (prefixed keys are skipped)."""
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
    )


def deployment_request(
    deployment: Deployment, profile: Profile, defaults: RequestDefaults | None = None
) -> AnalysisRequest:
    """The analysis a registered deployment asks for: canary mode for canaries, before/after otherwise."""
    spec = deployment.spec
    start = spec.started_at + timedelta(seconds=spec.warmup_s)
    window = Window(start, start + timedelta(seconds=spec.max_duration_s))
    baseline = None
    if spec.strategy is not Strategy.CANARY:
        # The old version's window just before the switch, as long as the analysis may run.
        baseline = Window(spec.started_at - timedelta(seconds=spec.max_duration_s), spec.started_at)
    decision = replace(profile.decision, min_duration_s=spec.min_duration_s)
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
    )

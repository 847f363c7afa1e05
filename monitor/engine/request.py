"""What to analyse: the service, both versions, their windows and the profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Mode, Window
from monitor.profiles import Profile
from monitor.profiles.model import HarmPolicy


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

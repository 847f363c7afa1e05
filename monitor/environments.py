"""Per-environment defaults of a deployment's analysis: production strict and long, development short.

A registration may override each value; the config may override the built-ins or add
environments (``environments:`` in the settings file). An environment that is neither built in
nor configured is refused, so a typo cannot slip a production deploy through short defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.models import BaselineChoice
from monitor.profiles.model import HarmPolicy, Unproven
from monitor.rollback.configured import RollbackPolicy


@dataclass(frozen=True)
class EnvironmentDefaults:
    """Defaults for deployments into one environment."""

    name: str
    profile: str = "otel-http"
    warmup_s: float = 60.0
    interval_s: float = 60.0
    min_duration_s: float = 600.0
    max_duration_s: float = 1800.0
    page: bool = False  # a final fail pages (Alertmanager, PagerDuty) instead of only informing
    rollback: RollbackPolicy = RollbackPolicy.OFF  # on a final fail: act (auto), signal pipelines, or not
    # What a pass must rule out: lower environments pass with a warning when it cannot.
    harm: HarmPolicy = field(default_factory=HarmPolicy)
    # Before/after strategies: which window the old version is judged over (auto: the calibration's).
    baseline: BaselineChoice = BaselineChoice.PREVIOUS
    # The burn rate of an SLO's error budget a new version may not exceed (the slo_burn checks);
    # None: the checks are informational (shown, never failing).
    slo_burn_limit: float | None = None


BUILTIN = (
    EnvironmentDefaults(
        "production",
        warmup_s=120.0,
        min_duration_s=900.0,
        max_duration_s=3600.0,
        page=True,
        rollback=RollbackPolicy.SIGNAL,
        harm=HarmPolicy(unproven=Unproven.INCONCLUSIVE),
        slo_burn_limit=10.0,
    ),
    # Production is strict, lower environments inform: staging's slo_burn checks show the burn and
    # never fail (a config may set environments.staging.slo_burn_limit).
    EnvironmentDefaults("staging", rollback=RollbackPolicy.SIGNAL),
    EnvironmentDefaults(
        "testing", warmup_s=30.0, interval_s=30.0, min_duration_s=300.0, max_duration_s=900.0
    ),
    EnvironmentDefaults(
        "development", warmup_s=0.0, interval_s=30.0, min_duration_s=120.0, max_duration_s=600.0
    ),
)


class Environments:
    """The known environments: the built-ins, overridden or extended by the config."""

    def __init__(self, configured: tuple[EnvironmentDefaults, ...] = ()) -> None:
        merged = {env.name: env for env in BUILTIN}
        merged.update({env.name: env for env in configured})
        self._by_name = merged

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    @property
    def profiles(self) -> frozenset[str]:
        """The profiles the environments name: with the built-ins, all an API caller may ask for."""
        return frozenset(env.profile for env in self._by_name.values())

    def get(self, name: str) -> EnvironmentDefaults | None:
        """Defaults of ``name``, or None when it is unknown."""
        return self._by_name.get(name)

    def harm(self, name: str | None) -> HarmPolicy:
        """What a pass must rule out in ``name`` (an unknown or unnamed environment: warn only)."""
        env = self._by_name.get(name) if name else None
        return env.harm if env is not None else HarmPolicy()

    def slo_burn_limit(self, name: str | None) -> float | None:
        """The SLO burn rate a new version may not exceed in ``name``; None (an unknown or unnamed
        environment too): the ``slo_burn`` checks are informational."""
        env = self._by_name.get(name) if name else None
        return env.slo_burn_limit if env is not None else None

"""What the log and trace kinds share: both versions' data are the look's merged aggregates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.checks.kind import Aggregates, Judging, Look
from monitor.errors import MonitorError
from monitor.models import CheckResult
from monitor.profiles.model import CheckSpec

D = TypeVar("D")


@dataclass(frozen=True)
class AggregatedKind(Generic[D]):
    """A kind judged on one signal's aggregates by a pure judge ``judge(spec, data, alpha, relevance)``."""

    read: Callable[[Aggregates], Awaitable[D]]
    judge_data: Callable[[CheckSpec, D, float, float], CheckResult]
    min_p_data: Callable[[CheckSpec, D], float]

    async def fetch(self, spec: CheckSpec, look: Look) -> D:
        """The look's aggregates of the kind's signal (merged once, whichever check asks first)."""
        if look.aggregates is None:
            raise MonitorError(f"{spec.name} reads logs or traces, and this look has none")
        return await self.read(look.aggregates)

    def min_p(self, spec: CheckSpec, data: D) -> float:
        """See :meth:`monitor.checks.kind.CheckKind.min_p`."""
        return self.min_p_data(spec, data)

    def judge(self, spec: CheckSpec, data: D, judging: Judging) -> CheckResult:
        """See :meth:`monitor.checks.kind.CheckKind.judge`."""
        return self.judge_data(spec, data, judging.alpha, judging.relevance)

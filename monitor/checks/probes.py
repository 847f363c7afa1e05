"""The probe kinds: a smoke probe's pass/fail rule, and its latency against the old version's.

Neither is in a profile: :func:`probe_checks` adds them to a request for the deployment's probes
(:class:`monitor.checks.kind.AddedCheck`), and the look hands the attempts made so far
(:class:`monitor.checks.kind.ProbeAttempts`: the store's in the daemon, one run's in ``analyze``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.checks.kind import AddedCheck, Judging, Look
from monitor.errors import InputError, MonitorError
from monitor.judges.probes import judge_probe, judge_probe_latency, latency_data, latency_min_p
from monitor.models import CheckResult, ComparisonKind, Direction, ProbeSpec, SamplesData, Signal
from monitor.probes.result import ProbeResult
from monitor.probes.targets import BASELINE, CANARY
from monitor.profiles import CheckSpec
from monitor.redact import redact_url

# Answers a side before answer times are compared: at 5 and 5 the rank test can reach p = 0.004
# (the exact minimum is 1/252), below a look's usual level; at 3 and 3 it never could (1/20).
LATENCY_MIN_ANSWERS = 5.0


def check_name(probe: ProbeSpec) -> str:
    """The verdict's name of ``probe``'s check: ``probe_<name>``, lower case, ``-`` and ``.`` as ``_``."""
    return "probe_" + re.sub(r"[^a-z0-9_]", "_", probe.name.lower())


def latency_check_name(probe: ProbeSpec) -> str:
    """The verdict's name of ``probe``'s latency comparison: ``probe_<name>_latency``."""
    return check_name(probe) + "_latency"


def check_name_clash(probe: ProbeSpec, others: Sequence[ProbeSpec]) -> tuple[ProbeSpec, str] | None:
    """The first of ``others`` with which ``probe`` would share a check's name, and that name (None:
    none): ``a-b`` and ``a_b`` are both ``probe_a_b``; ``health``'s latency comparison and a probe
    ``health_latency`` (or ``health-latency``) are both ``probe_health_latency``."""
    for other in others:
        mine = {check_name(probe), latency_check_name(probe)}
        theirs = {check_name(other), latency_check_name(other)}
        # Two latency names are equal only when the rule names are: the rule clash is named.
        if shared := sorted(mine & theirs):
            return other, shared[0]
    return None


def probe_checks(probes: Sequence[ProbeSpec], compared: Sequence[str] = ()) -> tuple[AddedCheck, ...]:
    """The checks of ``probes``: each probe's rule, and a latency comparison for those named in
    ``compared`` (probed against the old version at its own address too).

    The comparison is optional: a few attempts rarely settle it either way, so it never holds a
    verdict back, but a clear slowdown still counts against the run's score like any regression.

    :class:`InputError` when two probes would give checks the same name (``a-b`` and ``a_b``, or
    ``health`` compared and ``health_latency``): :func:`check_name_clash` refuses them earlier.
    """
    added: list[AddedCheck] = []
    for probe in probes:
        rule = CheckSpec(
            name=check_name(probe), comparison=ComparisonKind.COUNTS, signal=Signal.PROBE,
            description=f"smoke probe {probe.name}: {probe.method} {redact_url(probe.url)}",
            critical=probe.critical, min_data=float(probe.count), unit="ratio",
        )  # fmt: skip
        added.append(AddedCheck(rule, probe))
        if probe.name in compared:
            latency = CheckSpec(
                name=latency_check_name(probe), comparison=ComparisonKind.SAMPLES, signal=Signal.PROBE,
                description=f"probe {probe.name}'s answer time", direction=Direction.INCREASE,
                allowed_effect=probe.latency_allowed_effect, min_data=LATENCY_MIN_ANSWERS, unit="s",
                optional=True,
            )  # fmt: skip
            added.append(AddedCheck(latency, probe))
    names = [a.spec.name for a in added]
    if twice := sorted(n for n, times in Counter(names).items() if times > 1):
        raise InputError(f"two probes make the check {twice[0]}: rename one")
    return tuple(added)


def _subject(spec: CheckSpec, look: Look) -> ProbeSpec:
    probe = look.subjects.get(spec.name)
    if not isinstance(probe, ProbeSpec):
        raise MonitorError(f"no probe is behind check {spec.name}")
    return probe


async def _attempts(spec: CheckSpec, look: Look, role: str) -> tuple[ProbeSpec, Sequence[ProbeResult]]:
    probe = _subject(spec, look)
    if look.probes is None:
        raise MonitorError(f"probe {probe.name} was not run for this analysis")
    return probe, await look.probes.attempts(probe.name, role, look.canary.window.end)


@dataclass(frozen=True)
class ProbeRuleData:
    """A probe and the new version's attempts so far."""

    probe: ProbeSpec
    attempts: tuple[ProbeResult, ...]


class ProbeRule:
    """Failed at ``fail_after`` failed attempts in a row (:func:`monitor.judges.probes.judge_probe`)."""

    async def fetch(self, spec: CheckSpec, look: Look) -> ProbeRuleData:
        """The new version's attempts finished before the look."""
        probe, attempts = await _attempts(spec, look, CANARY)
        return ProbeRuleData(probe, tuple(attempts))

    def min_p(self, spec: CheckSpec, data: ProbeRuleData) -> float:
        """1: a rule, not a test, so it takes none of the look's false-alarm budget."""
        return 1.0

    def judge(self, spec: CheckSpec, data: ProbeRuleData, judging: Judging) -> CheckResult:
        """See :func:`monitor.judges.probes.judge_probe`."""
        return judge_probe(spec, data.probe, data.attempts)


@dataclass(frozen=True)
class LatencyData:
    """Answer times of the attempts each version answered as expected."""

    canary: SamplesData
    baseline: SamplesData


class ProbeLatency:
    """The new version's answer times against the old one's, by the rank test on raw attempts."""

    async def fetch(self, spec: CheckSpec, look: Look) -> LatencyData:
        """Both versions' attempts finished before the look."""
        probe, canary = await _attempts(spec, look, CANARY)
        _, baseline = await _attempts(spec, look, BASELINE)
        return LatencyData(latency_data(canary, probe), latency_data(baseline, probe))

    def min_p(self, spec: CheckSpec, data: LatencyData) -> float:
        """See :func:`monitor.judges.probes.latency_min_p`."""
        return latency_min_p(spec, data.canary, data.baseline)

    def judge(self, spec: CheckSpec, data: LatencyData, judging: Judging) -> CheckResult:
        """See :func:`monitor.judges.probes.judge_probe_latency`."""
        return judge_probe_latency(spec, data.canary, data.baseline, judging.alpha)


RULE = ProbeRule()
LATENCY = ProbeLatency()

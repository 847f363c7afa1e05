"""Value types shared by every stage: sources, statistics, judges, engine and output.

All are frozen dataclasses or str Enums so nothing mutable or stringly-typed crosses a
module boundary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote


class Signal(StrEnum):
    """Which kind of telemetry a check reads."""

    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"
    PROBE = "probe"  # smoke probes: HTTP(S) requests the monitor itself makes to a version


class ComparisonKind(StrEnum):
    """The three comparisons every check reduces to (DESIGN.md, statistical core)."""

    COUNTS = "counts"
    DISTRIBUTION = "distribution"
    SAMPLES = "samples"


class Classification(StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    HIGH = "high"
    LOW = "low"
    NODATA = "nodata"
    ERROR = "error"


class VerdictStatus(StrEnum):
    """Outcome of a whole run; ``running`` while no final verdict has been reached."""

    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    RUNNING = "running"


class Direction(StrEnum):
    """Which change of a check counts as a regression."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class CheckPurpose(StrEnum):
    """A regression check judges health; a traffic check only judges whether the run is trustworthy."""

    REGRESSION = "regression"
    TRAFFIC = "traffic"


class Mode(StrEnum):
    """Canary: both versions over the same window. Before/after: each over its own window."""

    CANARY = "canary"
    BEFORE_AFTER = "before_after"


class BaselineChoice(StrEnum):
    """Which window the old version is judged over in before/after mode (DESIGN.md, Baselines).

    ``previous``: the window just before the deploy, as long as the analysis. ``day`` and ``week``:
    the canary's own window 24 hours or 7 days earlier, so both sides see the same time of day (and
    day of week) and a daily traffic cycle does not read as a regression. ``auto`` is a setting, not
    a window: ``previous`` unless a calibration (a backtest's profile override) names another;
    :func:`monitor.engine.request.resolve_baseline` turns it into one of the three.
    """

    PREVIOUS = "previous"
    DAY = "day"
    WEEK = "week"
    AUTO = "auto"

    @property
    def offset_s(self) -> float | None:
        """How far back a seasonal baseline lies; None for ``previous`` (and the unresolved ``auto``)."""
        return _SEASONAL_OFFSETS_S.get(self)

    def earlier(self, window: Window) -> Window:
        """``window`` a day (week) earlier: the same minutes, :attr:`offset_s` back (ValueError
        for ``previous`` and ``auto``)."""
        offset_s = self.offset_s
        if offset_s is None:
            raise ValueError(f"the {self.value} baseline is not a window earlier")
        back = timedelta(seconds=offset_s)
        return Window(window.start - back, window.end - back)


_SEASONAL_OFFSETS_S = {BaselineChoice.DAY: 86400.0, BaselineChoice.WEEK: 7 * 86400.0}


@dataclass(frozen=True)
class Window:
    """A half-open time interval ``[start, end)`` with timezone-aware datetimes."""

    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class VersionWindow:
    """One version of the service observed over one window."""

    version: str
    window: Window


# --- data handed from sources to judges -------------------------------------------------


@dataclass(frozen=True)
class CountsData:
    """Events (e.g. 5xx responses) over an exposure (e.g. requests) for one version.

    ``periods`` optionally splits the totals into consecutive periods ``(events, exposure)``,
    aligned in time with the other version's, so a changing traffic split can be accounted for.
    """

    events: float
    exposure: float
    periods: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class HistogramData:
    """Bucketed observations of one version.

    ``upper_bounds`` are ascending bucket upper bounds (the last may be ``inf``); ``counts``
    are per-bucket (not cumulative) observation counts of the same length. ``periods``
    optionally holds the per-bucket counts of consecutive periods (summing to ``counts``),
    aligned in time with the other version's.
    """

    upper_bounds: tuple[float, ...]
    counts: tuple[float, ...]
    periods: tuple[tuple[float, ...], ...] = ()

    @property
    def total(self) -> float:
        return float(sum(self.counts))


@dataclass(frozen=True)
class SamplesData:
    """Points of a time series (or raw observations) of one version."""

    values: tuple[float, ...]


CheckData = CountsData | HistogramData | SamplesData


# Upper bounds of the span duration buckets the receiver counts (the last bucket is unbounded).
SPAN_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@dataclass(frozen=True)
class OperationStats:
    """One operation's spans of one version over the window."""

    count: int
    errors: int = 0
    buckets: tuple[int, ...] = ()
    exceptions: Mapping[str, int] = field(default_factory=dict)
    exemplars: tuple[str, ...] = ()
    calls: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceData:
    """Both versions' operations; ``bucket_bounds_s`` are the upper bounds of ``buckets`` but the last.

    ``canary_callers`` and ``baseline_callers`` are the calls to each version as its callers saw
    them (client spans paired with the version's server spans, or attributed by address), named
    ``"<caller service>: <client operation> -> <callee operation>"``.
    """

    bucket_bounds_s: tuple[float, ...]
    canary: Mapping[str, OperationStats]
    baseline: Mapping[str, OperationStats]
    canary_callers: Mapping[str, OperationStats] = field(default_factory=dict)
    baseline_callers: Mapping[str, OperationStats] = field(default_factory=dict)


# --- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """The largest regression still compatible with the data: what a pass rules out.

    ``effect`` is a one-sided confidence bound at ``confidence`` on the ratio canary/baseline of
    ``quantity`` (e.g. ``errors``, ``p99``), in the harmful direction: an upper bound for checks
    of increases, a lower one for decreases. ``estimate`` is that quantity's point estimate;
    ``negligible`` is true when the canary's own rate is bounded below the check's absolute
    floor, which rules out harm whatever the ratio. ``alike_width`` is the distance, on the log
    scale, the bound would have from an estimate of 1 were the versions alike, with the data
    seen so far (infinite with no events): what says how much more data would settle it.
    ``floor_growth`` is how many times more exposure the canary needs, at its current rate, for its
    own rate's bound to fall below the check's absolute floor (infinite without a floor, or when
    its rate is not below it): the other way a zero-error canary rules out harm.
    """

    effect: float
    estimate: float
    quantity: str
    confidence: float
    negligible: bool = False
    alike_width: float = math.inf
    floor_growth: float = math.inf


@dataclass(frozen=True)
class Comparison:
    """Result of comparing canary with baseline for one check (pure statistics).

    ``effect`` is a ratio canary/baseline for counts and distribution comparisons and a
    location shift (canary - baseline, in the metric's unit) for samples. ``interval`` is
    the confidence interval of ``effect``. ``conclusive`` is true when the data already
    settle the check either way (the interval lies entirely inside or beyond the allowed
    effect), which lets a run end before its maximum duration.
    """

    kind: ComparisonKind
    classification: Classification
    effect: float | None
    interval: tuple[float, float] | None
    p_value: float | None
    baseline_value: float | None
    canary_value: float | None
    baseline_n: float
    canary_n: float
    conclusive: bool = False
    detail: str = ""
    bound: Bound | None = None

    @classmethod
    def nodata(
        cls,
        kind: ComparisonKind,
        baseline_n: float,
        canary_n: float,
        baseline_value: float | None = None,
        canary_value: float | None = None,
    ) -> Comparison:
        """A comparison that could not be made for lack of data."""
        return cls(
            kind, Classification.NODATA, None, None, None, baseline_value, canary_value, baseline_n, canary_n
        )


# --- judged results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """A number a human may want next to a check, e.g. a p99 for baseline and canary."""

    label: str
    baseline: float | None
    canary: float | None
    unit: str = ""
    detail: str = ""  # e.g. an example log line, or a link to a trace


@dataclass(frozen=True)
class BucketCounts:
    """Both versions' observations per histogram bucket, for people to see the distributions.

    ``upper_bounds`` ascend (the last may be ``inf``); ``baseline`` and ``canary`` hold per-bucket
    (not cumulative) counts of the same length. A verdict document carries at most a few dozen
    buckets (:func:`monitor.judges.buckets.bucket_counts` merges neighbours beyond that).
    """

    upper_bounds: tuple[float, ...]
    baseline: tuple[float, ...]
    canary: tuple[float, ...]


@dataclass(frozen=True)
class CheckResult:
    """The judged outcome of one check, as published in the verdict JSON."""

    name: str
    signal: Signal
    comparison: ComparisonKind
    classification: Classification
    critical: bool
    weight: float
    message: str
    baseline_value: float | None = None
    baseline_n: float = 0.0
    canary_value: float | None = None
    canary_n: float = 0.0
    effect: float | None = None
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    conclusive: bool = False
    purpose: CheckPurpose = CheckPurpose.REGRESSION
    unit: str = ""
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    bound: Bound | None = None
    # The ratio canary/baseline tolerated below and above (None: that side never regresses).
    allowed: tuple[float | None, float | None] | None = None
    histogram: BucketCounts | None = None


@dataclass(frozen=True)
class Verdict:
    """The verdict of one evaluation (interim while ``status`` is ``running``)."""

    service: str
    environment: str | None
    canary: VersionWindow
    baseline: VersionWindow
    status: VerdictStatus
    score: float
    summary: str
    checks: tuple[CheckResult, ...]
    decided_at: datetime | None = None
    deployment_id: str | None = None
    # Before/after mode: which baseline window was chosen (None: canary mode, or a window given by hand).
    baseline_choice: BaselineChoice | None = None

    @property
    def final(self) -> bool:
        return self.status is not VerdictStatus.RUNNING


# --- smoke probes ------------------------------------------------------------------------------

JsonScalar = str | int | float | bool | None

PROBE_PLACEHOLDERS = frozenset({"service", "version", "environment"})


@dataclass(frozen=True)
class ProbeSpec:
    """One smoke probe. ``url`` may hold ``{service}``, ``{version}`` and ``{environment}``.

    ``headers`` hold secrets read from files: their values never appear in a repr, a result, a log
    or the store. A probe is run against the new version and, when the URL renders to another
    address for the old one (it names ``{version}``, or a blue/green preview serves the new one),
    against the old version too, whose latencies its answers are then compared with.
    """

    name: str
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    expected_status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    json_equals: tuple[tuple[str, JsonScalar], ...] = ()
    json_exists: tuple[str, ...] = ()
    max_latency_s: float | None = None
    timeout_s: float = 5.0
    interval_s: float = 10.0
    count: int = 5  # enough answers a side for the latency comparison (LATENCY_MIN_ANSWERS)
    fail_after: int = 3  # consecutive failed attempts that fail the probe
    hosts: tuple[str, ...] = ()  # the hosts the rendered URL may name; empty: the template's own host
    redirect_hosts: tuple[str, ...] = ()  # other hosts a redirect may lead to
    critical: bool = True  # a failed probe fails the run at once
    # The slowdown of the new version's answers tolerated against the old version's (0.25: 25 %).
    latency_allowed_effect: float = 0.25
    services: tuple[str, ...] = ()  # the services it applies to; empty: every service
    environments: tuple[str, ...] = ()  # the environments it applies to; empty: every one

    def allowed_hosts(self) -> frozenset[str]:
        """The hosts this probe may request: ``hosts``, else the URL template's literal host."""
        if self.hosts:
            return frozenset(h.lower() for h in self.hosts)
        host = template_host(self.url)
        return frozenset({host.lower()}) if host and "{" not in host else frozenset()

    def render(self, service: str, version: str, environment: str) -> str:
        """The URL for one deployment, each value percent-encoded (:func:`template_value`).

        Never raises on a template that passed :func:`template_problem` (as the config and the
        API check every probe URL); :class:`ValueError` naming the problem otherwise.
        """
        if (problem := template_problem(self.url)) is not None:
            raise ValueError(f"probe {self.name}: url: {'; '.join(problem)}")
        values = {"service": service, "version": version, "environment": environment}
        # "{{" and "}}" are literal braces, as in str.format (whose format specs are refused).
        return _TEMPLATE_TOKEN.sub(
            lambda m: template_value(values[m[1]]) if m[1] is not None else m[0][0], self.url
        )

    def applies_to(self, service: str, environment: str | None) -> bool:
        """Whether this probe is run for a deployment of ``service`` in ``environment``."""
        return (not self.services or service in self.services) and (
            not self.environments or (environment or "") in self.environments
        )


# A literal brace written twice, a placeholder, or a lone brace (which no valid template has).
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def template_fields(url: str) -> list[str]:
    """What each placeholder of ``url`` holds between its braces, in order (``version``,
    ``version:>9``, ``team``); literal ``{{``/``}}`` and lone braces are not placeholders."""
    return [m[1] for m in _TEMPLATE_TOKEN.finditer(url) if m[1] is not None]


def template_problem(url: str) -> tuple[str, str] | None:
    """What keeps ``url`` from being a probe URL template, as ``(problem, fix)`` (None: nothing).

    A placeholder is exactly ``{service}``, ``{version}`` or ``{environment}``: no format spec or
    conversion (``{version:>999999999}`` would build a gigabyte URL, ``{version!r}`` quotes it).
    """
    for match in _TEMPLATE_TOKEN.finditer(url):
        token, name = match[0], match[1]
        if name is None:
            if token in ("{{", "}}"):
                continue
            return f"a lone {token!r}", f"write {token * 2} for a literal brace"
        if name in PROBE_PLACEHOLDERS:
            continue
        base = re.split(r"[!:.\[]", name, maxsplit=1)[0]
        if base in PROBE_PLACEHOLDERS:
            return f"placeholder {token} has a format spec, conversion or index", f"write {{{base}}}"
        return f"unknown placeholder {token}", "use {service}, {version} or {environment}"
    return None


def template_value(value: str) -> str:
    """``value`` as it goes into a probe URL: percent-encoded whole, so a registration's version
    ``../../admin?`` stays one path segment and cannot steer a probe (and its header secrets) to
    another path, query or host."""
    quoted = quote(value, safe="")
    if quoted and not quoted.strip("."):
        # "." and ".." stay as they are under quote() and are dot segments the client resolves
        # (even written %2E): encoded twice, the server reads a segment "%2E%2E", not "go up".
        return quoted.replace(".", "%252E")
    return quoted


def template_host(url: str) -> str:
    """The host part of a URL template (placeholders left as they are; no port, no user info)."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")]
    return re.sub(r":[0-9]*$", "", netloc)


class ErrorKind(StrEnum):
    """Why a probe attempt got no answer to judge (or was not made)."""

    TIMEOUT = "timeout"
    TLS = "tls"
    DNS = "dns"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION = "connection"
    HOST_NOT_ALLOWED = "host_not_allowed"
    REDIRECT_REFUSED = "redirect_refused"


@dataclass(frozen=True)
class ProbeResult:
    """One probe attempt: ok, or the answer's status, latency and body head with the assertion it
    failed, or the error kind with a detail naming it (e.g. ``certificate verify failed``). What the
    runner returns, the store keeps and the judges read."""

    probe: str
    url: str  # redacted
    ok: bool
    status: int | None = None
    latency_s: float | None = None
    body_head: str = ""
    failed: str | None = None  # the assertion that failed, in words
    error: ErrorKind | None = None
    detail: str = ""
    at: datetime | None = None  # when the attempt started (UTC)
    role: str = "canary"  # which version answered: "canary" (the new one) or "baseline"


# --- deployments (the daemon's unit of work) -------------------------------------------------


class Strategy(StrEnum):
    """How the new version reaches users."""

    CANARY = "canary"
    BLUEGREEN = "bluegreen"
    ROLLING = "rolling"


class DeploymentStatus(StrEnum):
    """Where a deployment's analysis stands; the last five are final."""

    PENDING = "pending"
    RUNNING = "running"
    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (DeploymentStatus.PENDING, DeploymentStatus.RUNNING)


@dataclass(frozen=True)
class DeploymentSpec:
    """What a pipeline registers: the deployment to analyse and how."""

    service: str
    environment: str
    version: str
    baseline_version: str
    strategy: Strategy
    started_at: datetime
    profile: str
    warmup_s: float
    interval_s: float
    min_duration_s: float
    max_duration_s: float
    labels: tuple[tuple[str, str], ...] = ()
    # Before/after strategies only (a canary is judged beside its baseline); ``auto`` is resolved
    # when the analysis is built, against the profile's calibration.
    baseline: BaselineChoice = BaselineChoice.PREVIOUS
    # Smoke probes run against the new version (headers are not kept here: they are the config's).
    probes: tuple[ProbeSpec, ...] = ()
    # Blue/green: where the new version answers before traffic is switched to it (its probes go
    # there, and the verdict judges it before the switch).
    preview_url: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A registered deployment with its current status."""

    id: str
    spec: DeploymentSpec
    status: DeploymentStatus
    status_reason: str
    created_at: datetime
    updated_at: datetime
    looks_done: int = 0
    next_look_at: datetime | None = None

"""Settings from a YAML file and the environment, parsed once into typed objects.

Example ``--config`` file::

    environment: production
    profile: otel-http            # built-in name or a path (relative to this file)
    prometheus:
      url: https://prometheus.example.com          # --prometheus-url and MONITOR_PROMETHEUS_URL win
      timeout_s: 10
      max_attempts: 3
      bearer_token_file: /run/secrets/prometheus   # or bearer_token_env: VARIABLE (never inline)
      # basic_auth: {username: monitor, password_file: /run/secrets/prom-password}   # or password_env
      headers: {X-Scope-OrgID: team-a}             # sent with every request; not for secrets
    loki: {url: https://loki.example.com, basic_auth: {username: "1234", password_env: LOKI_TOKEN}}
    tempo: {url: https://tempo.example.com}        # loki, tempo, jaeger: url and credentials as above
    logs_from: receiver           # where the daemon reads logs: receiver (OTLP, default) or loki
    traces_from: receiver         # where the daemon reads traces: receiver (default), tempo or jaeger
    traffic:
      expected_canary_share: 0.1  # overrides the profile's
    matchers:                     # extra label matchers added to every query
      cluster: eu-1
    trace_url: https://grafana.example.com/explore?traceId={trace_id}   # links to exemplar traces
    settle_s: 40                  # a look waits this long after its time for the data to arrive
    webhooks:                     # final verdicts, HMAC-signed (docs/webhooks.md)
      - {name: deploys, url: https://hooks.example.com/d, secret_file: /run/secrets/hook, verdicts: [fail]}
    environments:                 # per-environment defaults (monitor/environments.py)
      production:
        max_duration_s: 3600
        harm: {counts: 2.0, latency: 1.25, unproven: inconclusive}   # what a pass must rule out
    tokens:                       # API tokens of monitor serve (never inline: a file or a variable)
      - {name: jenkins, scopes: [read, deploy], token_file: /run/secrets/jenkins-token}
      - {name: grafana, scopes: [read], token_env: MONITOR_GRAFANA_TOKEN}
    report_links:                 # signed, expiring report links a browser opens (docs/security.md)
      key_file: /run/secrets/report-link-key   # at least 32 characters: openssl rand -hex 32
      lifetime_s: 604800          # how long a new link works (default 7 days)
    probes:                       # smoke probes (docs/configuration.md); header values from files
      - {name: health, url: "https://{service}.example.com/status", hosts: [cart.example.com],
         headers: [{name: Authorization, value_file: /run/secrets/probe}], expect_status: [200, 204],
         json_equals: {status: ok}, max_latency_s: 0.5, timeout_s: 5, interval_s: 10, count: 6, fail_after: 3,
         critical: true, latency_allowed_effect: 0.25, services: [cart], environments: [production]}
    probe_hosts: ["*.preview.example.com"]   # hosts a registration's own probes / preview may target

Environment variables (lower precedence than flags, higher than the file; all listed in
:mod:`monitor.envvars`): ``MONITOR_PROMETHEUS_URL``, ``MONITOR_LOKI_URL``, ``MONITOR_TEMPO_URL``,
``MONITOR_JAEGER_URL``, ``MONITOR_PROFILE``, ``MONITOR_ENVIRONMENT``, ``MONITOR_TRACE_URL``,
``MONITOR_PUBLIC_URL``, ``MONITOR_GRAFANA_URL`` (the ``grafana:`` section's URL),
``MONITOR_REPORT_LINK_KEY_FILE`` (the report-link key's file; wins over ``report_links.key_file``).
A source's credentials go with whichever of its URLs is used; user info in a
flag's or variable's URL (``http://user:password@host``) is basic auth, and may not be combined with
configured credentials.
The source sections are described in :mod:`monitor.sources.spec`, ``public_url``, ``grafana`` and
``pager`` in :mod:`monitor.settings.grafana` and :mod:`monitor.settings.pager`, ``rollback`` in
:mod:`monitor.rollback.spec`. The file's models are :mod:`monitor.config.file`, imported only when
a file is read: a command without one needs no pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from monitor.cliargs import check_url
from monitor.envvars import env
from monitor.errors import ConfigError
from monitor.reportlinks import DEFAULT_LIFETIME_S, LinkKey, key_problem
from monitor.rollback.configured import RollbackSpec
from monitor.sources.configured import URL_VARIABLES, Sources

if TYPE_CHECKING:
    from monitor.environments import EnvironmentDefaults
    from monitor.probes.spec import ProbeSpec
    from monitor.settings.grafana import GrafanaSpec
    from monitor.settings.pager import PagerSpec
    from monitor.slo.model import SLO

Scope = Literal["read", "deploy", "ingest", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
Verdict = Literal["pass", "marginal", "fail", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
LogsFrom = Literal["receiver", "loki"]
TracesFrom = Literal["receiver", "tempo", "jaeger"]
LOGS_FROM: tuple[str, ...] = get_args(LogsFrom)
TRACES_FROM: tuple[str, ...] = get_args(TracesFrom)


@dataclass(frozen=True)
class WebhookSpec:
    """Where final verdicts are sent, signed with a shared secret (never printed)."""

    name: str
    url: str
    secret: str = field(repr=False)
    verdicts: tuple[str, ...] = VERDICTS
    environments: tuple[str, ...] = ()  # empty: every environment


@dataclass(frozen=True)
class TokenSpec:
    """An API token: who it is, what it may do, and its secret (never printed)."""

    name: str
    scopes: tuple[str, ...]
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the monitor reads from its config file and environment."""

    sources: Sources = field(default_factory=Sources)  # Prometheus, Loki, Tempo, Jaeger: URLs and credentials
    trace_url: str | None = None  # e.g. https://grafana/explore?...{trace_id}: links exemplar traces
    environment: str | None = None
    profile: str | None = None
    prometheus_timeout_s: float = 10.0
    prometheus_max_attempts: int = 3
    expected_canary_share: float | None = None
    matchers: tuple[tuple[str, str], ...] = ()
    tokens: tuple[TokenSpec, ...] = ()
    environments: tuple[EnvironmentDefaults, ...] = ()
    webhooks: tuple[WebhookSpec, ...] = ()
    public_url: str | None = None  # the monitor as users reach it: report links in annotations and pages
    report_links: LinkKey | None = None  # None: report links are plain URLs that need a token
    grafana: GrafanaSpec | None = None
    pager: PagerSpec | None = None
    rollback: RollbackSpec = field(default_factory=RollbackSpec)
    # A look judges only time whose data have had time to arrive: the OTLP receiver's flush
    # interval (10 s) plus a Prometheus scrape and ingest (30 s).
    settle_s: float = 40.0
    # Where the daemon reads logs and traces: the OTLP receiver's store, or a pulled backend
    # (its section gives the URL and credentials).
    logs_from: str = "receiver"
    traces_from: str = "receiver"
    # Smoke probes run against every deployment they apply to (ProbeSpec.applies_to), unless its
    # registration names its own; judged in verdicts as probe checks.
    probes: tuple[ProbeSpec, ...] = ()
    # Hosts a probe defined in a registration body (or a blue/green preview address) may target:
    # a registration is an API call, so it may not send the daemon anywhere the config did not allow.
    # An entry is a host name, or "*.suffix" for any host under suffix.
    probe_hosts: tuple[str, ...] = ()
    slos: tuple[SLO, ...] = ()  # service level objectives: monitor slo generate writes their rules

    @property
    def prometheus_url(self) -> str | None:
        """Prometheus' base URL from the environment or the file (a flag, read by the caller, wins)."""
        return self.sources.prometheus.url


def _grafana(spec: GrafanaSpec | None, environ: Mapping[str, str] | None) -> GrafanaSpec | None:
    """The ``grafana:`` section with ``MONITOR_GRAFANA_URL`` (if set) as its URL.

    Without a section the variable alone configures nothing here: a Grafana needs a token, and only
    ``monitor provision`` takes one from the environment (``MONITOR_GRAFANA_TOKEN``).
    """
    url = env("MONITOR_GRAFANA_URL", environ)
    if spec is None or not url:
        return spec
    return replace(spec, url=check_url(url, "MONITOR_GRAFANA_URL").rstrip("/"))


KEY_FILE_VARIABLE = "MONITOR_REPORT_LINK_KEY_FILE"


def read_link_key(file: Path, named_by: str, lifetime_s: float = DEFAULT_LIFETIME_S) -> LinkKey:
    """The report-link key in ``file`` (``named_by`` says where the name came from, for errors).

    Refused, naming the file, when it cannot be read or is too short to resist guessing.
    """
    try:
        secret = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{named_by}: cannot read {file} ({exc.strerror}); check the path") from None
    except (UnicodeDecodeError, ValueError):  # not text, or a name no file can have (a NUL)
        raise ConfigError(f"{named_by}: {str(file)!a} is not a readable text file; check the path") from None
    if (problem := key_problem(secret)) is not None:
        raise ConfigError(f"{named_by}: {file}: {problem}; generate one: openssl rand -hex 32 > {file}")
    return LinkKey(secret.encode(), lifetime_s)


def _report_links(settings: Settings, environ: Mapping[str, str] | None) -> LinkKey | None:
    """The link key of ``MONITOR_REPORT_LINK_KEY_FILE`` when set without a ``report_links:`` section
    (a section reads the variable itself: it wins over ``key_file``)."""
    file = env(KEY_FILE_VARIABLE, environ)
    if settings.report_links is not None or not file:
        return settings.report_links
    return read_link_key(Path(file), KEY_FILE_VARIABLE)


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (if any), then let environment variables (:mod:`monitor.envvars`) override it."""
    doc, settings = None, Settings()
    if path is not None:
        # The file's models (pydantic) load only to read a file: analyze without --config skips
        # them, a tenth of its start (bench/analyze_latency.py).
        from monitor.config.file import read_config_file, require_pulled_urls

        doc, settings = read_config_file(path, environ)
    # Only what the environment may override is replaced: every other field carries over as read.
    sources = {
        name: replace(spec, url=env(URL_VARIABLES[name], environ) or spec.url)
        for name, spec in vars(settings.sources).items()
    }
    settings = replace(
        settings,
        sources=Sources(**sources),
        trace_url=env("MONITOR_TRACE_URL", environ) or settings.trace_url,
        environment=env("MONITOR_ENVIRONMENT", environ) or settings.environment,
        profile=env("MONITOR_PROFILE", environ) or settings.profile,
        public_url=(env("MONITOR_PUBLIC_URL", environ) or settings.public_url or "").rstrip("/") or None,
        grafana=_grafana(settings.grafana, environ),
        report_links=_report_links(settings, environ),
    )
    if doc is not None:  # without a file both read from the receiver
        require_pulled_urls(doc, settings)
    return settings

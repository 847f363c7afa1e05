"""The config file's models (pydantic), validated into :class:`~monitor.config.Settings`.

The file's format is described in :mod:`monitor.config`; reading it is :func:`read_config_file`,
called by :func:`monitor.config.load_settings` when a file is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from monitor.checks.probes import check_name_clash
from monitor.config import (
    KEY_FILE_VARIABLE,
    SCOPES,
    VERDICTS,
    LogsFrom,
    Scope,
    Settings,
    TokenSpec,
    TracesFrom,
    Verdict,
    WebhookSpec,
    read_link_key,
)
from monitor.environments import BUILTIN, EnvironmentDefaults
from monitor.envvars import env
from monitor.errors import MonitorError
from monitor.models import BaselineChoice, Signal
from monitor.probes.hosts import host_pattern_problem, url_problem
from monitor.probes.spec import JsonScalar, ProbeSpec, parse_problem, template_host, template_problem
from monitor.profiles import DEFAULT_PROFILE, load_profile
from monitor.profiles.model import Unproven
from monitor.profiles.templates import render, selector
from monitor.redact import redact_url
from monitor.reportlinks import DEFAULT_LIFETIME_S, LinkKey, key_problem
from monitor.rollback.configured import RollbackPolicy
from monitor.rollback.spec import RollbackSection, rollback_spec
from monitor.secretfile import read_secret
from monitor.settings.base import BaseUrl, Fix, HttpUrl, Lax, Section, invalid, validate
from monitor.settings.grafana import GrafanaSection, grafana_spec
from monitor.settings.pager import PagerSection, pager_spec
from monitor.slo.model import SLO, WINDOW_PLACEHOLDER, SliCheck
from monitor.slo.promql import bare_metric, counting_function
from monitor.sources.configured import URL_VARIABLES, Sources
from monitor.sources.spec import PrometheusSection, SourceSection, source_spec
from monitor.yamlfile import YamlDocument, load_yaml_file

_WEEK_S = 7 * 86400


ProfileName = Annotated[str, Fix("write e.g. 'profile: otel-http'")]


class TrafficSection(Section):
    """``traffic:``: overrides of the profile's traffic policy."""

    expected_canary_share: float | None = Field(None, ge=1e-6, le=1, description="overrides the profile's")


class HarmSection(Section):
    """``harm:`` of an environment: what a pass must rule out (ratios canary/baseline)."""

    counts: float | None = Field(None, ge=1, le=1000, description="e.g. 2.0: twice the error ratio")
    latency: float | None = Field(None, ge=1, le=1000, description="e.g. 1.25: a quantile 25% slower")
    unproven: Annotated[Unproven, Lax, Fix("write inconclusive or warn")] | None = None


def _off(value: object) -> object:
    return RollbackPolicy.OFF.value if value is False else value  # YAML 1.1 reads an unquoted `off` as false


def _burn_off(value: object) -> object:
    return 0.0 if value is False else value  # `off` (YAML 1.1's false): no limit, as 0


class EnvironmentSection(Section):
    """One entry of ``environments:``: defaults of the deployments into it.

    The bounds are the API's: a value it would refuse fails here, at start, not per registration.
    """

    profile: Annotated[str, Fix("write a profile name")] | None = None
    warmup_s: float | None = Field(None, ge=0, le=_WEEK_S)
    interval_s: float | None = Field(None, ge=10, le=3600)
    min_duration_s: float | None = Field(None, ge=0, le=_WEEK_S)
    max_duration_s: float | None = Field(None, ge=0, le=_WEEK_S)
    page: bool | None = Field(None, description="a final fail pages instead of only informing")
    rollback: (
        Annotated[
            RollbackPolicy,
            Lax,
            BeforeValidator(_off),
            Fix("write auto, signal or off"),
            # An unquoted off is YAML 1.1's false: editors must accept what the monitor accepts.
            WithJsonSchema({"enum": [*RollbackPolicy, False], "description": "auto, signal or off"}),
        ]
        | None
    ) = None
    harm: (
        Annotated[HarmSection, Fix("write e.g. 'harm: {counts: 2.0, latency: 1.25, unproven: inconclusive}'")]
        | None
    ) = None
    baseline: Annotated[BaselineChoice, Lax, Fix("write previous, day, week or auto")] | None = Field(
        None,
        description="before/after strategies: the old version's window just before the deploy "
        "(previous, the default), the same window a day or a week earlier, or auto (a backtest's "
        "calibration in the profile, else previous)",
    )
    slo_burn_limit: (
        Annotated[
            float,
            BeforeValidator(_burn_off),
            Field(ge=0, le=1000),
            Fix("write a burn rate such as 10 (ten times the sustainable rate), or off"),
            # An unquoted off is YAML 1.1's false: editors must accept what the monitor accepts.
            WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1000}, {"enum": [False]}]}),
        ]
        | None
    ) = Field(
        None,
        description="the SLO error-budget burn rate a new version may not exceed (slo_burn checks); "
        "off or 0: the checks are informational (built in: production 10; other environments off)",
    )


class WebhookSection(Section):
    """One entry of ``webhooks:``: final verdicts, HMAC-signed (docs/webhooks.md)."""

    name: Annotated[str, Field(min_length=1), Fix("name the webhook")]
    url: HttpUrl
    secret_file: str | None = None
    secret_env: str | None = None
    verdicts: Annotated[list[Verdict], Fix(f"list some of: {', '.join(VERDICTS)}")] = Field(
        default_factory=lambda: list(VERDICTS)
    )
    environments: Annotated[list[str], Fix("list environment names")] = Field(
        default_factory=list, description="empty: every environment"
    )


class TokenSection(Section):
    """One entry of ``tokens:``: an API token of ``monitor serve`` (never inline: a file or a variable)."""

    name: Annotated[str, Field(min_length=1), Fix("name the token (it is the actor in the audit trail)")]
    scopes: Annotated[list[Scope], Field(min_length=1), Fix(f"list some of: {', '.join(SCOPES)}")]
    token_file: str | None = None
    token_env: str | None = None


class ReportLinksSection(Section):
    """``report_links:``: signed, expiring report links (docs/security.md)."""

    key_file: str | None = Field(
        None,
        description="a file holding the signing key, at least 32 characters (openssl rand -hex 32); "
        f"{KEY_FILE_VARIABLE} wins over it",
    )
    lifetime_s: float = Field(
        DEFAULT_LIFETIME_S, ge=60, le=90 * 86400, description="how long a new link works (default 7 days)"
    )


class ProbeHeaderSection(Section):
    """One header of a probe: its value is a secret, read from a file or a variable, never inline."""

    name: Annotated[str, Field(min_length=1), Fix("name the header, e.g. Authorization")]
    value_file: str | None = None
    value_env: str | None = None


PROBE_NAME_PATTERN = r"^[a-z][a-z0-9_-]*$"


def _host_pattern(value: str) -> str:
    if (problem := host_pattern_problem(value)) is not None:
        raise invalid(
            problem, "write a host name (cart.example.com) or *. and a domain (*.preview.example.com)"
        )
    return value


HostPattern = Annotated[str, AfterValidator(_host_pattern)]


def _probe_host(value: str) -> str:
    # A probe's hosts are compared exactly with the host it requests: a pattern would never match.
    if "*" in value:
        raise invalid(f"{value!r} is a pattern; a probe's hosts are host names", "list each host")
    if (problem := host_pattern_problem(value)) is not None:
        raise invalid(problem, "write a host name, e.g. cart.example.com (no scheme, port or path)")
    return value


ProbeHost = Annotated[str, AfterValidator(_probe_host)]
HttpStatus = Annotated[int, Field(ge=100, le=599), Fix("write an HTTP status such as 200")]


class ProbeSection(Section):
    """One entry of ``probes:``: a smoke probe (docs/configuration.md, "Smoke probes")."""

    name: Annotated[
        str,
        Field(pattern=PROBE_NAME_PATTERN, max_length=63),
        Fix("write lower-case letters, digits, - and _, starting with a letter, e.g. health"),
    ] = Field(description="its checks are probe_<name> and probe_<name>_latency (- as _)")
    url: Annotated[str, Fix("write e.g. https://{service}.example.com/status")] = Field(
        description="http(s); may hold {service}, {version} and {environment}"
    )
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: list[ProbeHeaderSection] = Field(default_factory=list)
    expect_status: HttpStatus | Annotated[list[HttpStatus], Field(min_length=1)] = Field(
        200, description="one status or a list"
    )
    body_contains: str | None = None
    json_equals: dict[str, JsonScalar] = Field(
        default_factory=dict, description="dotted paths (status, items.0.id) and the values they must hold"
    )
    json_exists: list[str] = Field(default_factory=list, description="dotted paths that must exist")
    max_latency_s: float | None = Field(None, gt=0, le=300)
    timeout_s: float = Field(5.0, gt=0, le=300, description="per attempt, redirects included")
    interval_s: float = Field(10.0, ge=0, le=3600, description="between attempts")
    count: int = Field(5, ge=1, le=1000, description="attempts per run (the latency comparison needs 5)")
    fail_after: int = Field(3, ge=1, le=1000, description="consecutive failed attempts that fail the probe")
    hosts: list[ProbeHost] = Field(
        default_factory=list, description="hosts the URL may name (default: the URL's own literal host)"
    )
    redirect_hosts: list[ProbeHost] = Field(
        default_factory=list, description="other hosts a redirect may lead to (default: none)"
    )
    critical: bool = Field(True, description="a failed probe fails the verdict at once (false: a warning)")
    latency_allowed_effect: float = Field(
        0.25, ge=0, le=10, description="the new version's tolerated slowdown against the old one (0.25: 25 %)"
    )
    services: Annotated[list[str], Fix("list service names, e.g. [checkout]")] = Field(
        default_factory=list, description="the services it applies to (default: every one)"
    )
    environments: Annotated[list[str], Fix("list environment names, e.g. [production]")] = Field(
        default_factory=list, description="the environments it applies to (default: every one)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (template := template_problem(self.url)) is not None:
            raise invalid(*template, "url")
        if (unparsed := parse_problem(self.url)) is not None:  # what the client will be given must parse
            raise invalid(*unparsed, "url")
        if (problem := url_problem(self.url, self.hosts)) is not None:
            field, text, fix = problem
            raise invalid(text, fix, field)
        host = template_host(self.url).lower()
        # Every attempt at a host hosts does not list fails as host_not_allowed: a typo would fail
        # a good deploy, so it is refused here.
        if self.hosts and "{" not in host and host not in {h.lower() for h in self.hosts}:
            raise invalid(
                f"the URL's host {host!r} is not among hosts", "add it to hosts, or correct the URL", "hosts"
            )
        if self.fail_after > self.count:
            raise invalid(
                f"fail_after {self.fail_after} is more than count {self.count}",
                "lower fail_after or raise count",
                "fail_after",
            )
        return self


class SliSection(Section):
    """``sli:`` of an SLO: PromQL of bad (``errors``) or ``good`` events and of ``total`` events, each
    over a range written ``{{.window}}`` (Sloth's convention); or a profile's counts ``check``."""

    errors: str | None = Field(None, description="bad events, e.g. 5xx responses; or give good")
    good: str | None = Field(None, description="good events; or give errors")
    total: Annotated[str, Fix("add 'total: sum(rate(...[{{.window}}]))'")] | None = None
    check: Annotated[str, Field(min_length=1), Fix("name a counts check, e.g. http_error_ratio")] | None = (
        Field(None, description="a counts check of the SLO's profile: its events are the bad events")
    )


class SloSection(Section):
    """One entry of ``slos:``: an SLO, from which ``monitor slo generate`` writes Prometheus rules."""

    name: Annotated[
        str,
        Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=63),
        Fix("write lower-case letters, digits and dashes, e.g. checkout-availability"),
    ]
    service: Annotated[str, Field(min_length=1), Fix("name the service, e.g. 'service: checkout'")]
    objective: Annotated[float, Field(gt=0, lt=1), Fix("write a ratio, e.g. 0.999 for 99.9 %")] = Field(
        description="the share of events that must be good, e.g. 0.999"
    )
    window: Annotated[Literal["28d", "30d"], Fix("write 28d or 30d")] = Field(
        "30d", description="the SLO's rolling window"
    )
    description: str = ""
    profile: ProfileName | None = Field(
        None, description="whose check sli.check names (default: the config's profile, else otel-http)"
    )
    sli: Annotated[
        SliSection, Fix("write 'sli: {errors: ..., total: ...}' or 'sli: {check: http_error_ratio}'")
    ]


class ConfigFile(Section):
    """The config file (``--config``, ``MONITOR_CONFIG``): every section is optional."""

    environment: str | None = Field(None, description="the default environment of analyze")
    profile: ProfileName | None = Field(None, description="a built-in name or a path (relative to this file)")
    prometheus: PrometheusSection | None = None
    loki: SourceSection | None = None
    tempo: SourceSection | None = None
    jaeger: SourceSection | None = None
    traffic: TrafficSection | None = None
    matchers: dict[str, Annotated[str, Fix("quote the label value")]] | None = Field(
        None, description="extra label matchers added to every query"
    )
    tokens: (
        Annotated[list[TokenSection], Fix("list entries with name, scopes and token_file or token_env")]
        | None
    ) = None
    environments: (
        Annotated[
            dict[str, EnvironmentSection | None], Fix("write e.g. 'production: {max_duration_s: 3600}'")
        ]
        | None
    ) = None
    webhooks: (
        Annotated[list[WebhookSection], Fix("list entries with name, url and secret_file or secret_env")]
        | None
    ) = None
    trace_url: str | None = Field(None, description="links to exemplar traces: a URL with {trace_id}")
    public_url: BaseUrl | None = Field(None, description="the monitor as users reach it (report links)")
    report_links: ReportLinksSection | None = None
    probes: (
        Annotated[list[ProbeSection], Fix("list entries with name and url (docs/configuration.md)")] | None
    ) = None
    probe_hosts: Annotated[list[HostPattern], Fix("list hosts, e.g. [*.preview.example.com]")] | None = Field(
        None,
        description="hosts a registration's own probes and a blue/green preview may target "
        "(*.domain: any host under it); default: none",
    )
    grafana: GrafanaSection | None = None
    pager: PagerSection | None = None
    rollback: RollbackSection | None = None
    slos: (
        Annotated[list[SloSection], Fix("list entries with name, service, objective, window and sli")] | None
    ) = Field(None, description="service level objectives: monitor slo generate writes their rules")
    settle_s: float = Field(40.0, ge=0, le=3600, description="a look waits this long for its data")
    logs_from: LogsFrom = Field(
        "receiver", description="where the daemon reads logs: the OTLP receiver or loki"
    )
    traces_from: TracesFrom = Field(
        "receiver", description="where the daemon reads traces: the OTLP receiver, tempo or jaeger"
    )

    @field_validator("trace_url")
    @classmethod
    def _trace_link(cls, value: str) -> str:
        if "{trace_id}" not in value:
            raise invalid(
                f"invalid {redact_url(value)!r}",
                "write a URL with {trace_id}, e.g. https://tempo/trace/{trace_id}",
            )
        return value


def _from_file(doc: YamlDocument, path: Path, environ: Mapping[str, str] | None) -> Settings:
    config = validate(doc, ConfigFile)
    prometheus = config.prometheus or PrometheusSection.model_validate({})
    share = config.traffic.expected_canary_share if config.traffic else None
    environments = _environments(path, config.environments or {})
    return Settings(
        sources=Sources(
            source_spec(doc, path, "prometheus", config.prometheus),
            source_spec(doc, path, "loki", config.loki),
            source_spec(doc, path, "tempo", config.tempo),
            source_spec(doc, path, "jaeger", config.jaeger),
        ),
        trace_url=config.trace_url,
        environment=config.environment,
        profile=_profile_path(config.profile, path),
        prometheus_timeout_s=prometheus.timeout_s,
        prometheus_max_attempts=prometheus.max_attempts,
        expected_canary_share=share,
        matchers=tuple(sorted((config.matchers or {}).items())),
        tokens=_tokens(doc, path, config.tokens or []),
        environments=environments,
        webhooks=tuple(_webhook(doc, path, f"webhooks[{i}]", w) for i, w in enumerate(config.webhooks or [])),
        public_url=config.public_url,
        report_links=_report_links(doc, path, config.report_links, environ),
        grafana=grafana_spec(doc, path, config.grafana),
        pager=pager_spec(doc, path, config.pager),
        rollback=rollback_spec(doc, path, config.rollback),
        settle_s=config.settle_s,
        logs_from=config.logs_from,
        traces_from=config.traces_from,
        probes=_probes(doc, path, config.probes or []),
        probe_hosts=tuple(config.probe_hosts or []),
        slos=_slos(doc, path, config, environments),
    )


def _slos(
    doc: YamlDocument, path: Path, config: ConfigFile, environments: tuple[EnvironmentDefaults, ...]
) -> tuple[SLO, ...]:
    """``config.slos`` as :class:`~monitor.slo.SLO` values; the checks across fields name file:line.

    An SLI given as a profile's check is resolved here, once: its profile is loaded (the SLO's
    ``profile:``, else the config's, else otel-http) and its templates rendered for the rules with
    the service's label matcher and ``{{.window}}``. A limit of an environment (built in or
    configured) that would allow every request to fail is refused with the SLO.
    """
    default_profile = _profile_path(config.profile, path)
    limits = {env.name: env.slo_burn_limit for env in (*BUILTIN, *environments)}
    slos: list[SLO] = []
    for index, section in enumerate(config.slos or []):
        where = f"slos[{index}]"
        if any(slo.name == section.name for slo in slos):
            raise doc.error(f"{where}.name", f"{section.name!r} is named twice", "give each SLO its own name")
        if section.sli.check is not None:
            profile = _profile_path(section.profile, path) if section.profile else default_profile
            sli = _sli_of_check(doc, where, section, profile or DEFAULT_PROFILE)
        else:
            sli = _sli_of_promql(doc, where, section)
        slos.append(
            SLO(
                name=section.name,
                service=section.service,
                objective=section.objective,
                window_days=int(section.window.removesuffix("d")),
                description=section.description,
                **sli,
            )
        )
        _check_limits(doc, where, slos[-1], limits, configured={env.name for env in environments})
    return tuple(slos)


def _check_limits(
    doc: YamlDocument, where: str, slo: SLO, limits: dict[str, float | None], configured: set[str]
) -> None:
    """Refuse a burn-rate limit that allows every request to fail: ``limit x budget >= 1``.

    A burn of ``limit`` is an error ratio of ``limit x (1 - objective)``; at 1 or more no version
    could ever exceed it, and its ``slo_burn`` check would pass whatever the new version does.
    """
    for name, limit in sorted(limits.items()):
        if limit is None or limit * slo.error_budget < 1:
            continue
        field = f"environments.{name}.slo_burn_limit"
        given = field if name in configured else f"the built-in {field}"
        raise doc.error(
            f"{where}.objective",
            f"objective {slo.objective:g} (error budget {slo.error_budget:g}) with {given} {limit:g}: "
            f"a burn of {limit:g}x is an error ratio of {limit * slo.error_budget:g}, which allows "
            "every request to fail",
            f"raise the objective above {1 - 1 / limit:g}, or lower {field} below {1 / slo.error_budget:g}",
        )


def _sli_of_promql(doc: YamlDocument, where: str, section: SloSection) -> dict[str, Any]:
    sli = section.sli
    if section.profile is not None:
        raise doc.error(
            f"{where}.profile", "profile is for an SLI given as a check", "remove it, or use sli.check"
        )
    if (sli.errors is None) == (sli.good is None):
        raise doc.error(
            f"{where}.sli",
            "give exactly one of errors and good",
            "write errors (bad events, e.g. 5xx) or good, beside total; or check: <a counts check>",
        )
    if sli.total is None:
        raise doc.error(f"{where}.sli", "no total", "add 'total: sum(rate(...[{{.window}}]))'")
    for key in ("errors", "good", "total"):
        query = getattr(sli, key)
        if query is not None:
            _check_promql(doc, f"{where}.sli.{key}", query)
    return {"errors": sli.errors, "good": sli.good, "total": sli.total}


def _check_promql(doc: YamlDocument, field: str, query: str) -> None:
    """A PromQL SLI is a rate over ``{{.window}}`` (a verdict multiplies it by the window's seconds)
    whose every metric has braces (a verdict adds each version's labels into them)."""
    if WINDOW_PLACEHOLDER not in query:
        raise doc.error(
            field,
            f"no {WINDOW_PLACEHOLDER} in the query",
            f"write the range as [{WINDOW_PLACEHOLDER}], e.g. rate(x_total[{WINDOW_PLACEHOLDER}])",
        )
    if (function := counting_function(query)) is not None:
        raise doc.error(
            field,
            f"{function}(...) counts events over the window, but an SLI is read as events a second "
            "(a verdict multiplies it by the window's seconds, counting every event hundreds of times)",
            f"write rate(...[{WINDOW_PLACEHOLDER}]) (Sloth's convention)",
        )
    if (name := bare_metric(query)) is not None:
        raise doc.error(
            field,
            f"{name} is selected without braces, so a verdict cannot add each version's labels",
            f'write {name}{{}} (or give its matchers, {name}{{code=~"5.."}})',
        )


def _sli_of_check(doc: YamlDocument, where: str, section: SloSection, profile_name: str) -> dict[str, Any]:
    """The SLO's fields of an SLI given as ``profile_name``'s counts check ``sli.check``."""
    sli = section.sli
    if any(q is not None for q in (sli.errors, sli.good, sli.total)):
        raise doc.error(
            f"{where}.sli", "check and PromQL are both given", "give either check or errors/good and total"
        )
    try:
        profile = load_profile(profile_name)
    except MonitorError as exc:
        raise doc.error(f"{where}.profile", str(exc), "name a built-in profile or an existing file") from exc
    counts = [c for c in profile.checks if c.signal is Signal.METRICS and c.events and c.exposure]
    check = next((c for c in counts if c.name == sli.check), None)
    if check is None or check.events is None or check.exposure is None:
        names = ", ".join(c.name for c in counts) or "none"
        raise doc.error(
            f"{where}.sli.check",
            f"profile {profile.name} has no counts check {sli.check!r} with events and exposure",
            f"name one of: {names}",
        )
    # The profile's label names now; $selector and $window stay for the rules and the verdicts.
    labels = profile.labels.placeholders()
    events = Template(check.events).safe_substitute(labels)
    exposure = Template(check.exposure).safe_substitute(labels)
    service = selector(profile, section.service, None)
    return {
        "errors": render(events, profile, service, WINDOW_PLACEHOLDER),
        "total": render(exposure, profile, service, WINDOW_PLACEHOLDER),
        "from_check": SliCheck(
            profile_name, check.name, events, exposure, profile.labels.service, profile.labels.version
        ),
    }


def read_slos(path: Path) -> tuple[SLO, ...]:
    """The ``slos:`` of the config file at ``path``, validated with the rest of the file's shape
    but without reading any secret (``monitor slo generate`` needs none)."""
    doc = load_yaml_file(path)
    config = validate(doc, ConfigFile)
    return _slos(doc, path, config, _environments(path, config.environments or {}))


def _profile_path(profile: str | None, config: Path) -> str | None:
    """A profile file's path is relative to the config file; a built-in name stays a name."""
    if profile and profile.endswith((".yaml", ".yml")) and not Path(profile).is_absolute():
        return str(config.parent / profile)
    return profile


def _environments(path: Path, raw: dict[str, EnvironmentSection | None]) -> tuple[EnvironmentDefaults, ...]:
    """``environments:`` mapping names to defaults; a built-in name starts from its built-in values."""
    builtins = {env.name: env for env in BUILTIN}
    result: list[EnvironmentDefaults] = []
    for name, section in raw.items():
        base = builtins.get(name, EnvironmentDefaults(name))
        given = (section or EnvironmentSection.model_validate({})).model_dump(
            exclude_none=True, exclude={"harm", "profile"}
        )
        if given.get("slo_burn_limit") == 0:  # off: the slo_burn checks only inform
            given["slo_burn_limit"] = None
        if section is not None and section.profile is not None:
            given["profile"] = _profile_path(section.profile, path)
        if section is not None and section.harm is not None:
            given["harm"] = replace(base.harm, **section.harm.model_dump(exclude_none=True))
        result.append(replace(base, **given))
    return tuple(result)


def _webhook(doc: YamlDocument, path: Path, where: str, section: WebhookSection) -> WebhookSpec:
    secret = read_secret(doc, where, section.model_dump(), path, prefix="secret")
    return WebhookSpec(
        section.name, section.url, secret, tuple(section.verdicts), tuple(section.environments)
    )


def _report_links(
    doc: YamlDocument, path: Path, section: ReportLinksSection | None, environ: Mapping[str, str] | None
) -> LinkKey | None:
    """The report-link key: the variable's file if set, else ``key_file``; None without the section."""
    if section is None:
        return None
    if variable := env(KEY_FILE_VARIABLE, environ):
        return read_link_key(Path(variable), KEY_FILE_VARIABLE, section.lifetime_s)
    if section.key_file is None:
        raise doc.error("report_links", "no key", f"set report_links.key_file or {KEY_FILE_VARIABLE}")
    secret = read_secret(doc, "report_links", section.model_dump(), path, prefix="key")
    if (problem := key_problem(secret)) is not None:
        raise doc.error(
            "report_links.key_file", f"{section.key_file}: {problem}", "generate one: openssl rand -hex 32"
        )
    return LinkKey(secret.encode(), section.lifetime_s)


def _tokens(doc: YamlDocument, path: Path, sections: list[TokenSection]) -> tuple[TokenSpec, ...]:
    """The API tokens; their secrets are read here."""
    tokens: list[TokenSpec] = []
    for index, section in enumerate(sections):
        where = f"tokens[{index}]"
        secret = read_secret(doc, where, section.model_dump(), path)
        if len(secret) < 16:
            raise doc.error(
                where, "the token is shorter than 16 characters", "generate one: openssl rand -hex 32"
            )
        tokens.append(TokenSpec(name=section.name, scopes=tuple(section.scopes), secret=secret))
    return tuple(tokens)


def probe_spec(section: ProbeSection, headers: tuple[tuple[str, str], ...] = ()) -> ProbeSpec:
    """The :class:`~monitor.models.ProbeSpec` of a validated ``probes:`` entry (also the shape of a
    registration's inline probe). ``headers`` are the header values already read (secrets): the
    section names only where they are."""
    status = section.expect_status
    return ProbeSpec(
        name=section.name,
        url=section.url,
        method=section.method,
        headers=headers,
        expected_status=tuple(status) if isinstance(status, list) else (status,),
        body_contains=section.body_contains,
        json_equals=tuple(section.json_equals.items()),
        json_exists=tuple(section.json_exists),
        max_latency_s=section.max_latency_s,
        timeout_s=section.timeout_s,
        interval_s=section.interval_s,
        count=section.count,
        fail_after=section.fail_after,
        hosts=tuple(section.hosts),
        redirect_hosts=tuple(section.redirect_hosts),
        critical=section.critical,
        latency_allowed_effect=section.latency_allowed_effect,
        services=tuple(section.services),
        environments=tuple(section.environments),
    )


def _probes(doc: YamlDocument, path: Path, sections: list[ProbeSection]) -> tuple[ProbeSpec, ...]:
    """The smoke probes; their header values (secrets) are read here."""
    probes: list[ProbeSpec] = []
    for index, section in enumerate(sections):
        where = f"probes[{index}]"
        if any(p.name == section.name for p in probes):
            raise doc.error(f"{where}.name", f"a second probe named {section.name!r}", "give each a new name")
        # "a-b" and "a_b" are both check probe_a_b, "health"'s latency comparison and a probe
        # "health_latency" both probe_health_latency: the verdict could not tell them apart.
        probe = probe_spec(section)  # its header values are read only once it is known to fit
        if clash := check_name_clash(probe, probes):
            same, name = clash
            raise doc.error(
                f"{where}.name",
                f"{section.name!r} and {same.name!r} both make check {name}",
                f"rename {section.name!r}: names must differ in more than - and _, and none may be "
                "another's name with _latency added",
            )
        headers = tuple(
            (h.name, read_secret(doc, f"{where}.headers[{i}]", h.model_dump(), path, prefix="value"))
            for i, h in enumerate(section.headers)
        )
        probes.append(replace(probe, headers=headers))
    return tuple(probes)


def read_config_file(path: Path, environ: Mapping[str, str] | None = None) -> tuple[YamlDocument, Settings]:
    """The file at ``path`` parsed and validated; :class:`~monitor.errors.ConfigError` naming the
    file, line, field and fix when it is not valid. ``environ`` (default: the process's) gives the
    variables that decide which files are read."""
    doc = load_yaml_file(path)
    return doc, _from_file(doc, path, environ)


def require_pulled_urls(doc: YamlDocument, settings: Settings) -> None:
    """A pulled backend chosen by ``logs_from``/``traces_from`` has a URL: caught when the file is
    read, not when the daemon's engine first builds its sources (and restarts, failing, forever)."""
    for key, backend in (("logs_from", settings.logs_from), ("traces_from", settings.traces_from)):
        if backend != "receiver" and not getattr(settings.sources, backend).url:
            raise doc.error(
                key,
                f"{backend} is chosen but no {backend} URL is set",
                f"set {backend}.url or {URL_VARIABLES[backend]}",
            )

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

Environment variables (lower precedence than flags, higher than the file):
``MONITOR_PROMETHEUS_URL``, ``MONITOR_LOKI_URL``, ``MONITOR_TEMPO_URL``, ``MONITOR_JAEGER_URL``,
``MONITOR_PROFILE``, ``MONITOR_ENVIRONMENT``, ``MONITOR_TRACE_URL``, ``MONITOR_PUBLIC_URL``. A source's
credentials go with whichever of its URLs is used; user info in a flag's or variable's URL
(``http://user:password@host``) is basic auth, and may not be combined with configured credentials.
The source sections are described in :mod:`monitor.sources.spec`, ``public_url``, ``grafana`` and
``pager`` in :mod:`monitor.outputs`, ``rollback`` in :mod:`monitor.rollback.spec`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.environments import BUILTIN, EnvironmentDefaults
from monitor.outputs import GrafanaSpec, PagerSpec, parse_grafana, parse_pager, parse_public_url
from monitor.profiles.model import HarmPolicy, Unproven
from monitor.rollback.spec import RollbackPolicy, RollbackSpec, parse_rollback
from monitor.secretfile import read_secret
from monitor.sources.spec import SOURCE_FIELDS, URL_VARIABLES, Sources, parse_source
from monitor.yamlfile import YamlDocument, load_yaml_file

_TOP = {
    "environment",
    "profile",
    "prometheus",
    "loki",
    "tempo",
    "jaeger",
    "traffic",
    "matchers",
    "tokens",
    "environments",
    "webhooks",
    "trace_url",
    "public_url",
    "grafana",
    "pager",
    "rollback",
    "settle_s",
    "logs_from",
    "traces_from",
}
_ENV_FIELDS = {
    "profile", "warmup_s", "interval_s", "min_duration_s", "max_duration_s", "page", "rollback", "harm",
}  # fmt: skip
_HARM_FIELDS = {"counts", "latency", "unproven"}
SCOPES = ("read", "deploy", "ingest", "admin")
_PULLED = ("loki", "tempo", "jaeger")  # in the order of Sources' fields
LOGS_FROM = ("receiver", "loki")
TRACES_FROM = ("receiver", "tempo", "jaeger")


@dataclass(frozen=True)
class WebhookSpec:
    """Where final verdicts are sent, signed with a shared secret (never printed)."""

    name: str
    url: str
    secret: str = field(repr=False)
    verdicts: tuple[str, ...] = ("pass", "marginal", "fail", "inconclusive")
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

    @property
    def prometheus_url(self) -> str | None:
        """Prometheus' base URL from the environment or the file (a flag, read by the caller, wins)."""
        return self.sources.prometheus.url


def _number(
    doc: YamlDocument,
    section: dict[str, object],
    path: str,
    default: float,
    low: float,
    high: float,
) -> float:
    key = path.rsplit(".", 1)[-1]
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise doc.error(path, f"invalid value {value!r}", f"use a number in [{low:g}, {high:g}]")
    return float(value)


def _section(doc: YamlDocument, key: str, known: set[str]) -> dict[str, object]:
    value = doc.data.get(key) or {}
    if not isinstance(value, dict):
        raise doc.error(key, "expected a mapping", "indent its fields under it")
    for name in value:
        if name not in known:
            raise doc.error(f"{key}.{name}", "unknown field", f"use one of: {', '.join(sorted(known))}")
    return value


def _from_file(path: Path) -> Settings:
    doc = load_yaml_file(path)
    for key in doc.data:
        if key not in _TOP:
            raise doc.error(str(key), "unknown field", f"use one of: {', '.join(sorted(_TOP))}")
    prometheus = _section(doc, "prometheus", {"timeout_s", "max_attempts", *SOURCE_FIELDS})
    traffic = _section(doc, "traffic", {"expected_canary_share"})
    raw_matchers = doc.data.get("matchers")
    # Any label name is a field of matchers; what is not a mapping is refused by _section.
    matchers = _section(doc, "matchers", set(raw_matchers) if isinstance(raw_matchers, dict) else set())
    for name, value in matchers.items():
        if not isinstance(value, str):
            raise doc.error(f"matchers.{name}", f"expected a string, got {value!r}", "quote the label value")
    profile = doc.data.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise doc.error(
            "profile",
            f"expected a name or path, got {profile!r}",
            "write e.g. 'profile: otel-http'",
        )
    if profile and profile.endswith((".yaml", ".yml")) and not Path(profile).is_absolute():
        profile = str(path.parent / profile)
    environment = doc.data.get("environment")
    share = traffic.get("expected_canary_share")
    tokens = _tokens(doc, path)
    trace_url = doc.data.get("trace_url")
    if trace_url is not None and (not isinstance(trace_url, str) or "{trace_id}" not in trace_url):
        raise doc.error(
            "trace_url",
            f"invalid {trace_url!r}",
            "write a URL with {trace_id}, e.g. https://tempo/trace/{trace_id}",
        )
    return Settings(
        sources=Sources(
            parse_source(
                doc, path, "prometheus", {k: v for k, v in prometheus.items() if k in SOURCE_FIELDS}
            ),
            *(parse_source(doc, path, name, _section(doc, name, set(SOURCE_FIELDS))) for name in _PULLED),
        ),
        trace_url=trace_url,
        environment=str(environment) if environment is not None else None,
        profile=profile,
        prometheus_timeout_s=_number(doc, prometheus, "prometheus.timeout_s", 10.0, 0.1, 600.0),
        prometheus_max_attempts=int(_number(doc, prometheus, "prometheus.max_attempts", 3, 1, 20)),
        expected_canary_share=(
            None if share is None else _number(doc, traffic, "traffic.expected_canary_share", 0.0, 1e-6, 1.0)
        ),
        matchers=tuple(sorted((str(k), str(v)) for k, v in matchers.items())),
        tokens=tokens,
        environments=_environments(doc, path),
        webhooks=_webhooks(doc, path),
        public_url=parse_public_url(doc),
        grafana=parse_grafana(doc, path),
        pager=parse_pager(doc, path),
        rollback=parse_rollback(doc, path),
        settle_s=_number(doc, doc.data, "settle_s", 40.0, 0.0, 3600.0),
        logs_from=_choice(doc, "logs_from", LOGS_FROM),
        traces_from=_choice(doc, "traces_from", TRACES_FROM),
    )


def _choice(doc: YamlDocument, key: str, choices: tuple[str, ...]) -> str:
    """The top-level ``key``, one of ``choices`` (the first is the default)."""
    value = doc.data.get(key, choices[0])
    if value not in choices:
        raise doc.error(key, f"invalid value {value!r}", f"use one of: {', '.join(choices)}")
    return str(value)


def _environments(doc: YamlDocument, path: Path) -> tuple[EnvironmentDefaults, ...]:
    """``environments:`` mapping names to defaults; a built-in name starts from its built-in values."""
    raw = doc.data.get("environments") or {}
    if not isinstance(raw, dict):
        raise doc.error(
            "environments", "expected a mapping", "write e.g. 'production: {max_duration_s: 3600}'"
        )
    builtins = {env.name: env for env in BUILTIN}
    result: list[EnvironmentDefaults] = []
    for name, values in raw.items():
        where = f"environments.{name}"
        section = values or {}
        if not isinstance(section, dict):
            raise doc.error(where, "expected a mapping", f"write e.g. '{name}: {{max_duration_s: 3600}}'")
        for key in section:
            if key not in _ENV_FIELDS:
                raise doc.error(
                    f"{where}.{key}", "unknown field", f"use one of: {', '.join(sorted(_ENV_FIELDS))}"
                )
        base = builtins.get(str(name), EnvironmentDefaults(str(name)))
        fields: dict[str, Any] = {}
        for key, value in section.items():
            if key == "profile":
                if not isinstance(value, str):
                    raise doc.error(
                        f"{where}.profile", f"expected a name or path, got {value!r}", "write a profile name"
                    )
                if value.endswith((".yaml", ".yml")) and not Path(value).is_absolute():
                    value = str(path.parent / value)  # like the top-level profile: relative to this file
                fields[key] = value
            elif key == "rollback":
                if value is False:  # YAML 1.1 reads an unquoted `off` as false
                    value = RollbackPolicy.OFF.value
                # A tuple, not a set: `in` compares, so a list or mapping here is refused, not a TypeError.
                if value not in tuple(p.value for p in RollbackPolicy):
                    raise doc.error(f"{where}.rollback", f"invalid {value!r}", "write auto, signal or off")
                fields[key] = RollbackPolicy(value)
            elif key == "harm":
                fields[key] = _harm(doc, f"{where}.harm", value, base.harm)
            elif key == "page":
                if not isinstance(value, bool):
                    raise doc.error(f"{where}.page", f"invalid {value!r}", "write true or false")
                fields[key] = value
            else:
                # The API's bounds: a value it would refuse must fail here, at start, not per registration.
                low, high = (10.0, 3600.0) if key == "interval_s" else (0.0, 7 * 86400.0)
                fields[key] = _number(doc, section, f"{where}.{key}", 0.0, low, high)
        result.append(replace(base, **fields))
    return tuple(result)


def _harm(doc: YamlDocument, where: str, value: Any, base: HarmPolicy) -> HarmPolicy:
    """``harm: {counts: 2.0, latency: 1.25, unproven: inconclusive|warn}`` (each optional)."""
    example = "write e.g. 'harm: {counts: 2.0, latency: 1.25, unproven: inconclusive}'"
    if not isinstance(value, dict):
        raise doc.error(where, "expected a mapping", example)
    for key in value:
        if key not in _HARM_FIELDS:
            raise doc.error(
                f"{where}.{key}", "unknown field", f"use one of: {', '.join(sorted(_HARM_FIELDS))}"
            )
    fields: dict[str, Any] = {}
    for key in ("counts", "latency"):
        if key in value:
            fields[key] = _number(doc, value, f"{where}.{key}", 0.0, 1.0, 1000.0)
    if "unproven" in value:
        if value["unproven"] not in tuple(u.value for u in Unproven):
            raise doc.error(
                f"{where}.unproven", f"invalid {value['unproven']!r}", "write inconclusive or warn"
            )
        fields["unproven"] = Unproven(value["unproven"])
    return replace(base, **fields)


def _webhooks(doc: YamlDocument, path: Path) -> tuple[WebhookSpec, ...]:
    """``webhooks:`` entries ``{name, url, secret_file | secret_env, verdicts?, environments?}``."""
    raw = doc.data.get("webhooks") or []
    if not isinstance(raw, list):
        raise doc.error(
            "webhooks", "expected a list", "list entries with name, url and secret_file or secret_env"
        )
    known = {"name", "url", "secret_file", "secret_env", "verdicts", "environments"}
    hooks: list[WebhookSpec] = []
    for index, entry in enumerate(raw):
        where = f"webhooks[{index}]"
        if not isinstance(entry, dict) or set(entry) - known:
            raise doc.error(where, "invalid entry", f"use the fields {', '.join(sorted(known))}")
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not name:
            raise doc.error(f"{where}.name", "missing", "name the webhook")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise doc.error(f"{where}.url", f"invalid {url!r}", "use an http:// or https:// URL")
        secret = read_secret(doc, where, entry, path, prefix="secret")
        verdicts = entry.get("verdicts", ["pass", "marginal", "fail", "inconclusive"])
        if not isinstance(verdicts, list) or not all(
            v in ("pass", "marginal", "fail", "inconclusive") for v in verdicts
        ):
            raise doc.error(
                f"{where}.verdicts",
                f"invalid {verdicts!r}",
                "list some of: pass, marginal, fail, inconclusive",
            )
        envs = entry.get("environments", [])
        if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
            raise doc.error(f"{where}.environments", f"invalid {envs!r}", "list environment names")
        hooks.append(WebhookSpec(name, url, secret, tuple(verdicts), tuple(envs)))
    return tuple(hooks)


def _tokens(doc: YamlDocument, path: Path) -> tuple[TokenSpec, ...]:
    """``tokens:`` entries ``{name, scopes, token_file | token_env}``; secrets are read here."""
    raw = doc.data.get("tokens") or []
    if not isinstance(raw, list):
        raise doc.error(
            "tokens", "expected a list", "list entries with name, scopes and token_file or token_env"
        )
    tokens: list[TokenSpec] = []
    for index, entry in enumerate(raw):
        where = f"tokens[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"name", "scopes", "token_file", "token_env"}:
            raise doc.error(where, "invalid entry", "use the fields name, scopes and token_file or token_env")
        name, scopes = entry.get("name"), entry.get("scopes")
        if not isinstance(name, str) or not name:
            raise doc.error(f"{where}.name", "missing", "name the token (it is the actor in the audit trail)")
        if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
            raise doc.error(f"{where}.scopes", f"invalid {scopes!r}", f"list some of: {', '.join(SCOPES)}")
        secret = read_secret(doc, where, entry, path)
        if len(secret) < 16:
            raise doc.error(
                where, "the token is shorter than 16 characters", "generate one: openssl rand -hex 32"
            )
        tokens.append(TokenSpec(name=name, scopes=tuple(scopes), secret=secret))
    return tuple(tokens)


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (if any), then let environment variables override it."""
    env = os.environ if environ is None else environ
    settings = _from_file(path) if path is not None else Settings()
    # Only what the environment may override is replaced: every other field carries over as read.
    sources = {
        name: replace(spec, url=env.get(URL_VARIABLES[name]) or spec.url)
        for name, spec in vars(settings.sources).items()
    }
    return replace(
        settings,
        sources=Sources(**sources),
        trace_url=env.get("MONITOR_TRACE_URL") or settings.trace_url,
        environment=env.get("MONITOR_ENVIRONMENT") or settings.environment,
        profile=env.get("MONITOR_PROFILE") or settings.profile,
        public_url=(env.get("MONITOR_PUBLIC_URL") or settings.public_url or "").rstrip("/") or None,
    )

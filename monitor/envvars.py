"""Every environment variable the monitor reads as a setting, in one table.

A variable sits between a flag and the config file: a flag wins over it, it wins over the file.
The command line (:mod:`monitor.cli`), the settings (:mod:`monitor.config`) and the commands read
variables only through :func:`env` and :func:`env_flag`, so this table is the whole list; ``monitor
--help`` prints it and docs/configuration.md lists it (a test keeps both in step).

Not listed: variables a config file names for a secret (``token_env: NAME``), and OpenTelemetry's
own ``OTEL_EXPORTER_OTLP_*`` (docs/operations.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """One variable: its name, the setting it gives, what for, and its default (None: unset)."""

    name: str
    setting: str
    description: str
    default: str | None = None


VARIABLES = (
    Variable("MONITOR_CONFIG", "--config", "the config file (serve, provision)"),
    Variable("MONITOR_PROMETHEUS_URL", "--prometheus-url, prometheus.url", "Prometheus' base URL"),
    Variable("MONITOR_LOKI_URL", "--loki-url, loki.url", "Loki's base URL: logs are judged from it"),
    Variable("MONITOR_TEMPO_URL", "--tempo-url, tempo.url", "Tempo's base URL: traces are judged from it"),
    Variable("MONITOR_JAEGER_URL", "--jaeger-url, jaeger.url", "or Jaeger's query service"),
    Variable("MONITOR_PROFILE", "profile", "the profile: a built-in name or a file"),
    Variable("MONITOR_ENVIRONMENT", "environment", "the environment analyze judges for"),
    Variable("MONITOR_TRACE_URL", "trace_url", "links to exemplar traces, a URL with {trace_id}"),
    Variable("MONITOR_PUBLIC_URL", "public_url", "the monitor as users reach it, for report links"),
    Variable(
        "MONITOR_REPORT_LINK_KEY_FILE",
        "report_links.key_file",
        "a file holding the key that signs expiring report links",
    ),
    Variable("MONITOR_LISTEN", "serve --listen", "the address the API listens on", "127.0.0.1:8080"),
    Variable(
        "MONITOR_DATABASE", "serve --database", "sqlite:///FILE or postgresql://...", "sqlite:///monitor.db"
    ),
    Variable("MONITOR_LEASE", "serve --lease", "how long a replica holds a deployment unrenewed", "30s"),
    Variable("MONITOR_ENGINE", "serve --engine", "process (its own process) or inline", "process"),
    Variable("MONITOR_INSECURE_NO_AUTH", "serve --insecure-no-auth", "1: no API tokens (development only)"),
    Variable("MONITOR_URL", "gate --url", "the daemon's base URL", "http://127.0.0.1:8080"),
    Variable("MONITOR_TOKEN", "gate --token-file", "the API token itself, when no file is given"),
    Variable("MONITOR_IDEMPOTENCY_KEY", "gate --idempotency-key", "registers at most once per key"),
    Variable(
        "MONITOR_RULES_DIR", "provision --rules-dir", "Prometheus rule files to provision", "alert_rules"
    ),
    Variable("MONITOR_GRAFANA_URL", "grafana.url", "the Grafana to annotate and provision"),
    Variable("MONITOR_GRAFANA_TOKEN", "provision", "its token, when the config has no grafana: section"),
)
BY_NAME = {variable.name: variable for variable in VARIABLES}


def env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the variable ``name`` (one of :data:`VARIABLES`), else its default.

    An empty value counts as unset. An undeclared name is a programming error (``KeyError``): a
    variable the table does not list would be one nobody can find.
    """
    variable = BY_NAME[name]
    value = (os.environ if environ is None else environ).get(name)
    return value if value else variable.default


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the on/off variable ``name`` is set to ``1``."""
    return env(name, environ) == "1"


def help_epilog() -> str:
    """The table for ``monitor --help``: every variable, what it sets and its default."""
    width = max(len(v.name) for v in VARIABLES)
    lines = ["environment variables (a flag wins over a variable, a variable over the config file):"]
    for v in VARIABLES:
        default = f" (default {v.default})" if v.default else ""
        lines.append(f"  {v.name:<{width}}  {v.setting}: {v.description}{default}")
    return "\n".join(lines)


def markdown_table() -> str:
    """The table for docs/configuration.md."""
    rows = ["| variable | sets | | default |", "|---|---|---|---|"]
    for v in VARIABLES:
        rows.append(
            f"| `{v.name}` | {v.setting} | {v.description} | {f'`{v.default}`' if v.default else ''} |"
        )
    return "\n".join(rows)

"""Where verdicts go besides the API: Grafana (annotations, provisioning) and the pager.

Config file sections::

    public_url: https://deploy-monitor.example.com   # links to reports in annotations and pages
    grafana:
      url: https://grafana.example.com
      token_file: /run/secrets/grafana-token         # a service-account token (or token_env)
      folder_uid: deploy-monitor                     # where monitor provision puts everything
      folder_title: Deploy monitor
      annotations: true                              # the daemon annotates deploys and verdicts
      org_id: 1                                      # optional X-Grafana-Org-Id
      datasource: {name: Prometheus, uid: prometheus, url: http://prometheus:9090}   # optional
      contact_point:                                 # optional: the pager, for Grafana-managed rules
        name: deploy-monitor-pager
        type: pagerduty
        settings: {severity: critical}
        secure_settings: {integrationKey: {secret_file: /run/secrets/pd-key}}
    pager:
      alertmanager_url: http://alertmanager:9093
      pagerduty: {routing_key_file: /run/secrets/pd-routing-key}
      alert_ttl_s: 86400                             # how long an Alertmanager alert fires unresolved

Which environments page is the environment's ``page`` setting (production by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from monitor.secretfile import read_secret
from monitor.yamlfile import YamlDocument

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")


@dataclass(frozen=True)
class DatasourceSpec:
    """The Prometheus data source the dashboards and rules query."""

    name: str
    uid: str
    url: str


@dataclass(frozen=True)
class ContactPointSpec:
    """A Grafana contact point for the pager; ``secure_settings`` hold secrets (never printed)."""

    name: str
    type: str
    settings: tuple[tuple[str, object], ...] = ()
    secure_settings: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GrafanaSpec:
    """A Grafana to annotate and provision, with a service-account token (never printed)."""

    url: str
    token: str = field(repr=False)
    folder_uid: str = "deploy-monitor"
    folder_title: str = "Deploy monitor"
    annotations: bool = True
    org_id: int | None = None
    datasource: DatasourceSpec | None = None
    contact_point: ContactPointSpec | None = None


@dataclass(frozen=True)
class PagerSpec:
    """Where a failed deploy pages: Alertmanager's v2 API and/or PagerDuty Events v2."""

    alertmanager_url: str | None = None
    pagerduty_routing_key: str | None = field(default=None, repr=False)
    pagerduty_url: str = PAGERDUTY_EVENTS_URL
    alert_ttl_s: float = 86400.0

    @property
    def enabled(self) -> bool:
        return bool(self.alertmanager_url or self.pagerduty_routing_key)


def _mapping(doc: YamlDocument, where: str, value: object, known: set[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise doc.error(where, "expected a mapping", f"use the fields {', '.join(sorted(known))}")
    for key in value:
        if key not in known:
            raise doc.error(f"{where}.{key}", "unknown field", f"use one of: {', '.join(sorted(known))}")
    return value


def _free_mapping(doc: YamlDocument, where: str, value: object) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(where, "expected a mapping", "indent its fields under it")
    return {str(key): item for key, item in value.items()}


def _url(doc: YamlDocument, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise doc.error(where, f"invalid {value!r}", "use an http:// or https:// URL")
    return value.rstrip("/")


def _name(doc: YamlDocument, where: str, value: object, default: str | None = None) -> str:
    value = default if value is None else value
    if not isinstance(value, str) or not value:
        raise doc.error(where, f"invalid {value!r}", "write a non-empty string")
    return value


def _uid(doc: YamlDocument, where: str, value: object, default: str | None = None) -> str:
    text = _name(doc, where, value, default)
    if not _UID.match(text):
        raise doc.error(where, f"invalid uid {text!r}", "use at most 40 letters, digits, '-' or '_'")
    return text


def parse_public_url(doc: YamlDocument) -> str | None:
    """``public_url``: the monitor's address as users reach it (for report links)."""
    value = doc.data.get("public_url")
    return None if value is None else _url(doc, "public_url", value)


def parse_grafana(doc: YamlDocument, path: Path) -> GrafanaSpec | None:
    """The ``grafana:`` section, or None when absent."""
    raw = doc.data.get("grafana")
    if raw is None:
        return None
    known = {"url", "token_file", "token_env", "folder_uid", "folder_title", "annotations", "org_id",
             "datasource", "contact_point"}  # fmt: skip
    section = _mapping(doc, "grafana", raw, known)
    annotations = section.get("annotations", True)
    if not isinstance(annotations, bool):
        raise doc.error("grafana.annotations", f"invalid {annotations!r}", "write true or false")
    org_id = section.get("org_id")
    if org_id is not None and (isinstance(org_id, bool) or not isinstance(org_id, int) or org_id < 1):
        raise doc.error("grafana.org_id", f"invalid {org_id!r}", "write the organisation's number, e.g. 1")
    return GrafanaSpec(
        url=_url(doc, "grafana.url", section.get("url")),
        token=read_secret(doc, "grafana", section, path),
        folder_uid=_uid(doc, "grafana.folder_uid", section.get("folder_uid"), "deploy-monitor"),
        folder_title=_name(doc, "grafana.folder_title", section.get("folder_title"), "Deploy monitor"),
        annotations=annotations,
        org_id=org_id,
        datasource=_datasource(doc, section.get("datasource")),
        contact_point=_contact_point(doc, section.get("contact_point"), path),
    )


def _datasource(doc: YamlDocument, raw: object) -> DatasourceSpec | None:
    if raw is None:
        return None
    section = _mapping(doc, "grafana.datasource", raw, {"name", "uid", "url"})
    return DatasourceSpec(
        name=_name(doc, "grafana.datasource.name", section.get("name"), "Prometheus"),
        uid=_uid(doc, "grafana.datasource.uid", section.get("uid"), "prometheus"),
        url=_url(doc, "grafana.datasource.url", section.get("url")),
    )


def _contact_point(doc: YamlDocument, raw: object, path: Path) -> ContactPointSpec | None:
    if raw is None:
        return None
    where = "grafana.contact_point"
    section = _mapping(doc, where, raw, {"name", "type", "settings", "secure_settings"})
    settings = _free_mapping(doc, f"{where}.settings", section.get("settings"))
    secure_raw = _free_mapping(doc, f"{where}.secure_settings", section.get("secure_settings"))
    secure: list[tuple[str, str]] = []
    for key, entry in secure_raw.items():
        item = _mapping(doc, f"{where}.secure_settings.{key}", entry, {"secret_file", "secret_env"})
        secure.append((str(key), read_secret(doc, f"{where}.secure_settings.{key}", item, path, "secret")))
    return ContactPointSpec(
        name=_name(doc, f"{where}.name", section.get("name"), "deploy-monitor-pager"),
        type=_name(doc, f"{where}.type", section.get("type")),
        settings=tuple(sorted((str(k), v) for k, v in settings.items())),
        secure_settings=tuple(sorted(secure)),
    )


def parse_pager(doc: YamlDocument, path: Path) -> PagerSpec | None:
    """The ``pager:`` section, or None when absent."""
    raw = doc.data.get("pager")
    if raw is None:
        return None
    section = _mapping(doc, "pager", raw, {"alertmanager_url", "pagerduty", "alert_ttl_s"})
    alertmanager = section.get("alertmanager_url")
    routing_key: str | None = None
    pd_url = PAGERDUTY_EVENTS_URL
    if section.get("pagerduty") is not None:
        pd = _mapping(
            doc, "pager.pagerduty", section["pagerduty"], {"routing_key_file", "routing_key_env", "url"}
        )
        routing_key = read_secret(doc, "pager.pagerduty", pd, path, prefix="routing_key")
        if pd.get("url") is not None:
            pd_url = _url(doc, "pager.pagerduty.url", pd["url"])
    ttl = section.get("alert_ttl_s", 86400.0)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 300 <= ttl <= 30 * 86400:
        raise doc.error("pager.alert_ttl_s", f"invalid {ttl!r}", "use seconds in [300, 2592000]")
    spec = PagerSpec(
        alertmanager_url=None if alertmanager is None else _url(doc, "pager.alertmanager_url", alertmanager),
        pagerduty_routing_key=routing_key,
        pagerduty_url=pd_url,
        alert_ttl_s=float(ttl),
    )
    if not spec.enabled:
        raise doc.error("pager", "no destination", "set alertmanager_url and/or pagerduty")
    return spec

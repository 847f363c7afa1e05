"""The ``grafana:`` section: the Grafana the daemon annotates and ``monitor provision`` fills.

Example::

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from monitor.secretfile import read_secret
from monitor.settings.base import BaseUrl, Fix, Section
from monitor.yamlfile import YamlDocument


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


# Grafana's limit on a uid; the monitor's own uids are lower-case words.
Uid = Annotated[
    str, Field(pattern=r"^[a-zA-Z0-9_-]{1,40}$"), Fix("use at most 40 letters, digits, '-' or '_'")
]
Name = Annotated[str, Field(min_length=1), Fix("write a non-empty string")]


class SecretRef(Section):
    """A secret by file (relative to the config file) or environment variable, never inline."""

    secret_file: str | None = None
    secret_env: str | None = None


class DatasourceSection(Section):
    """``grafana.datasource``: the Prometheus the provisioned dashboards query."""

    name: Name = "Prometheus"
    uid: Uid = "prometheus"
    url: BaseUrl


class ContactPointSection(Section):
    """``grafana.contact_point``: where Grafana-managed rules page."""

    name: Name = "deploy-monitor-pager"
    type: Name
    settings: dict[str, Any] | None = Field(None, description="the contact point type's own settings")
    secure_settings: dict[str, SecretRef] | None = Field(None, description="settings that are secrets")


class GrafanaSection(Section):
    """``grafana:``."""

    url: BaseUrl
    token_file: str | None = Field(None, description="a file holding a service-account token")
    token_env: str | None = Field(None, description="an environment variable holding the token")
    folder_uid: Uid = "deploy-monitor"
    folder_title: Name = "Deploy monitor"
    annotations: bool = Field(True, description="the daemon annotates deploys and verdicts")
    org_id: Annotated[int, Field(ge=1), Fix("write the organisation's number, e.g. 1")] | None = None
    datasource: DatasourceSection | None = None
    contact_point: ContactPointSection | None = None


def grafana_spec(doc: YamlDocument, path: Path, section: GrafanaSection | None) -> GrafanaSpec | None:
    """The validated ``grafana:`` section as a :class:`GrafanaSpec`; its secrets are read here."""
    if section is None:
        return None
    source = section.datasource
    return GrafanaSpec(
        url=section.url,
        token=read_secret(doc, "grafana", section.model_dump(include={"token_file", "token_env"}), path),
        folder_uid=section.folder_uid,
        folder_title=section.folder_title,
        annotations=section.annotations,
        org_id=section.org_id,
        datasource=None if source is None else DatasourceSpec(source.name, source.uid, source.url),
        contact_point=_contact_point(doc, path, section.contact_point),
    )


def _contact_point(
    doc: YamlDocument, path: Path, section: ContactPointSection | None
) -> ContactPointSpec | None:
    if section is None:
        return None
    where = "grafana.contact_point.secure_settings"
    secure = [
        (key, read_secret(doc, f"{where}.{key}", ref.model_dump(), path, "secret"))
        for key, ref in (section.secure_settings or {}).items()
    ]
    return ContactPointSpec(
        name=section.name,
        type=section.type,
        settings=tuple(sorted((section.settings or {}).items())),
        secure_settings=tuple(sorted(secure)),
    )

"""The ``pager:`` section: where a failed deploy pages (Alertmanager's v2 API and/or PagerDuty Events v2).

Example::

    pager:
      alertmanager_url: http://alertmanager:9093
      pagerduty: {routing_key_file: /run/secrets/pd-routing-key}
      alert_ttl_s: 86400                             # how long an Alertmanager alert fires unresolved

Which environments page is the environment's ``page`` setting (production by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from monitor.secretfile import read_secret
from monitor.settings.base import BaseUrl, Section, invalid
from monitor.yamlfile import YamlDocument

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


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


class PagerDutySection(Section):
    """``pager.pagerduty``: an Events v2 routing key by file or variable."""

    routing_key_file: str | None = None
    routing_key_env: str | None = None
    url: BaseUrl = PAGERDUTY_EVENTS_URL


class PagerSection(Section):
    """``pager:``."""

    alertmanager_url: BaseUrl | None = None
    pagerduty: PagerDutySection | None = None
    alert_ttl_s: float = Field(
        86400.0, ge=300, le=30 * 86400, description="how long an alert fires unresolved"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.alertmanager_url is None and self.pagerduty is None:
            raise invalid("no destination", "set alertmanager_url and/or pagerduty")
        return self


def pager_spec(doc: YamlDocument, path: Path, section: PagerSection | None) -> PagerSpec | None:
    """The validated ``pager:`` section as a :class:`PagerSpec`; the routing key is read here."""
    if section is None:
        return None
    pd = section.pagerduty
    return PagerSpec(
        alertmanager_url=section.alertmanager_url,
        pagerduty_routing_key=(
            None
            if pd is None
            else read_secret(doc, "pager.pagerduty", pd.model_dump(), path, prefix="routing_key")
        ),
        pagerduty_url=PAGERDUTY_EVENTS_URL if pd is None else pd.url,
        alert_ttl_s=section.alert_ttl_s,
    )

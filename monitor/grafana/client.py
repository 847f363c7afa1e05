"""Talking to Grafana through grafana-client: retries, and errors an operator can act on.

Every call retries connection errors, timeouts and 5xx answers (``attempts`` times, with
backoff); a 404 reads as "absent" where the caller expects it; anything else becomes a
:class:`GrafanaError` whose message says what to fix (a token without rights, a conflicting
object, a URL that is not Grafana).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaException, TokenAuth

from monitor.errors import MonitorError
from monitor.settings.grafana import GrafanaSpec
from monitor.redact import redact_text, redact_url

_FIXES = {
    401: "Grafana rejected the token: check grafana.token_file or token_env (a service-account token)",
    403: (
        "the token lacks a permission: give its service account the Editor role on the folder (folders, "
        "dashboards, annotations) and alerting provisioning rights (role 'Alerting provisioning writer'); "
        "data sources need the Admin role"
    ),
    412: "changed by someone else meanwhile (version mismatch or name clash); rerun to compare again",
}


class GrafanaError(MonitorError):
    """Grafana answered with an error that retrying does not fix, or never answered."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and "message" in response:
        return str(response["message"])
    return str(response or exc.message or exc)[:300]


class Grafana:
    """A Grafana API session: ``call`` runs one grafana-client method with retries."""

    def __init__(
        self,
        spec: GrafanaSpec,
        *,
        attempts: int = 4,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = redact_url(spec.url)  # as shown in messages; requests use spec.url
        self.api: Any = GrafanaApi.from_url(spec.url, credential=TokenAuth(spec.token), timeout=timeout_s)
        if spec.org_id is not None:
            self.api.client.s.headers["X-Grafana-Org-Id"] = str(spec.org_id)
        self._attempts, self._sleep = attempts, sleep

    def call(self, what: str, method: Callable[..., Any], *args: Any, absent_ok: bool = False) -> Any:
        """``method(*args)``; None for a 404 when ``absent_ok``; :class:`GrafanaError` otherwise."""
        for attempt in range(1, self._attempts + 1):
            try:
                return method(*args)
            except GrafanaException as exc:
                status = int(exc.status_code or 0)
                if status == 404 and absent_ok:
                    return None
                if status and status < 500:
                    fix = _FIXES.get(status, "")
                    detail = f"{what}: HTTP {status} {_message(exc)}" + (f" ({fix})" if fix else "")
                    raise GrafanaError(detail, status) from None
                problem = f"HTTP {status} {_message(exc)}" if status else f"{type(exc).__name__}: {exc}"
            except OSError as exc:  # niquests' connection errors
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self._attempts:
                self._sleep(min(2.0 ** (attempt - 1) * 0.5, 5.0))
        raise GrafanaError(
            f"{what}: Grafana at {self.url} did not answer ({problem}) after {self._attempts} attempts"
        )

    def check_is_grafana(self) -> str:
        """The Grafana version from ``GET /api/health``; refuses anything that is not Grafana."""
        try:
            health = self.call("GET /api/health", self.api.client.GET, "/health")
        except GrafanaError as exc:
            raise GrafanaError(f"{self.url} does not look like Grafana: {redact_text(str(exc))}") from None
        except ValueError:  # not JSON
            health = None
        if not isinstance(health, dict) or "database" not in health:
            raise GrafanaError(
                f"{self.url} does not look like Grafana (GET /api/health did not answer Grafana's health "
                "document); check grafana.url: the address of Grafana itself, without /api"
            )
        return str(health.get("version", "unknown"))

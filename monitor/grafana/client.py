"""Talking to Grafana through grafana-client: retries, and errors an operator can act on.

Every call retries connection errors, timeouts, 429 and 5xx answers (``attempts`` times, by the
shared policy of :mod:`monitor.retry`); a 404 reads as "absent" where the caller expects it;
anything else becomes a :class:`GrafanaError` whose message says what to fix (a token without
rights, a conflicting object, a URL that is not Grafana) and whose fields say what Grafana answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaException, TokenAuth

from monitor.errors import MonitorError
from monitor.redact import redact_text, redact_url
from monitor.retry import Retry, RetryPolicy, retry_sync, retryable_status
from monitor.settings.grafana import GrafanaSpec

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
    """Grafana answered with an error that retrying does not fix, or never answered.

    ``status`` is the HTTP status (0 when no answer came), ``url`` Grafana's address as shown,
    ``body`` Grafana's own message.
    """

    def __init__(self, message: str, status: int = 0, *, url: str = "", body: str = "") -> None:
        super().__init__(message)
        self.status, self.url, self.body = status, url, body


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
        self._policy = RetryPolicy(attempts=attempts, backoff_s=0.5, max_backoff_s=5.0)
        self._sleep = sleep

    def call(self, what: str, method: Callable[..., Any], *args: Any, absent_ok: bool = False) -> Any:
        """``method(*args)``; None for a 404 when ``absent_ok``; :class:`GrafanaError` otherwise."""

        def attempt() -> Any:
            try:
                return method(*args)
            except GrafanaException as exc:
                status = int(exc.status_code or 0)
                if status == 404 and absent_ok:
                    return None
                message = _message(exc)
                if status and not retryable_status(status):
                    fix = _FIXES.get(status, "")
                    detail = f"{what}: HTTP {status} {message}" + (f" ({fix})" if fix else "")
                    raise GrafanaError(detail, status, url=self.url, body=message) from None
                problem = f"HTTP {status} {message}" if status else f"{type(exc).__name__}: {exc}"
                raise Retry(problem, status=status or None) from None
            except OSError as exc:  # niquests' connection errors
                raise Retry(f"{type(exc).__name__}: {exc}") from None

        try:
            return retry_sync(self._policy, attempt, sleep=self._sleep)
        except Retry as last:
            raise GrafanaError(
                f"{what}: Grafana at {self.url} did not answer ({last.problem}) "
                f"after {self._policy.attempts} attempts",
                last.status or 0, url=self.url,
            ) from None  # fmt: skip

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

"""Query parameters as pydantic models, validated like the request bodies: a 400 names the parameter.

A parameter the route does not take is a 400 naming it (:func:`unknown_parameters`, checked for
every ``/api/`` route), so a misspelt ``?servce=`` is not silently a list of every service. Each
model is the source of its operation's query parameters in the OpenAPI document (:data:`QUERIES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.api.problems import Problem, invalid
from monitor.api.validation import Body, one_of, refuse
from monitor.backtest.span import API_MAX_SPAN_S, backtest_span
from monitor.errors import InputError
from monitor.models import DeploymentStatus, Window

MAX_WAIT_S = 600.0


class Query(Body):
    """Query parameters: text, each read once (the first of a repeated one). Unknown ones never get
    here: :func:`unknown_parameters` refuses them first, naming the route's own."""

    model_config = ConfigDict(extra="ignore")


class ListQuery(Query):
    """GET /api/v1/deployments: which deployments to list."""

    service: str | None = Field(None, description="only this service's deployments")
    status: Annotated[DeploymentStatus, one_of(DeploymentStatus)] | None = Field(
        None, description="only deployments in this status"
    )

    @field_validator("status", mode="before")
    @classmethod
    def _empty_is_any(cls, value: object) -> object:
        return None if value == "" else value  # ?status= lists every status, as it always has


def _wait_s(value: object) -> float:
    try:
        wait_s = float(str(value))
    except ValueError:
        raise refuse("must be a number of seconds") from None
    if not 0 <= wait_s <= MAX_WAIT_S:  # NaN too
        raise refuse(f"must be between 0 and {MAX_WAIT_S:g}")
    return wait_s


def _link_expiry() -> Any:
    return Field(None, description="signed link: when it expires, Unix seconds")


def _link_signature() -> Any:
    return Field(None, description="signed link: HMAC-SHA256 of '<id>.<exp>' (index: 'index.<exp>'), hex")


class SignedLinkQuery(Query):
    """A route a signed report link opens (:mod:`monitor.reportlinks`): its expiry and signature,
    checked by the authentication before the handler runs (each such model declares the two last)."""

    exp: str | None = _link_expiry()
    sig: str | None = _link_signature()


class VerdictQuery(Query):
    """GET /api/v1/deployments/{id}/verdict: how long to wait for a final verdict."""

    wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S), BeforeValidator(_wait_s)] = Field(
        0.0, description="Long-poll until the verdict is final or this many seconds pass"
    )
    exp: str | None = _link_expiry()
    sig: str | None = _link_signature()


class ArgoQuery(Query):
    """GET /api/v1/integrations/argo-rollouts/verdict: a deployment by id, or the newest of a service."""

    deployment_id: str | None = Field(None, description="the deployment; or name it by service")
    service: str | None = Field(None, description="the newest deployment of this service")
    environment: str | None = Field(None, description="with service: in this environment")
    version: str | None = Field(None, description="with service: of this canary version")
    baseline_version: str | None = Field(
        None,
        description="with service, environment and version: register the deployment on the first call "
        "when the newest of that version replaces another baseline or none is registered (deploy scope)",
    )
    strategy: str | None = Field(
        None, description="with baseline_version: canary (default), bluegreen, rolling"
    )
    profile: str | None = Field(None, description="with baseline_version: default the environment's")

    @model_validator(mode="after")
    def _named(self) -> ArgoQuery:
        if self.deployment_id is None and self.service is None:
            raise refuse("pass deployment_id, or service (with environment and version)", "deployment_id")
        if self.baseline_version is None:  # a read: the registration's own fields make no sense
            extra = next((n for n in ("strategy", "profile") if getattr(self, n) is not None), None)
            if extra is not None:
                raise refuse("applies only with baseline_version, when the call may register", extra)
        elif self.deployment_id is not None:
            raise refuse("names a registered deployment: leave out baseline_version", "deployment_id")
        else:
            missing = next((n for n in ("environment", "version") if getattr(self, n) is None), None)
            if missing is not None:
                raise refuse("is required with baseline_version (the call may register)", missing)
        return self


MAX_INDEX_ROWS = 500


def _rows(value: object) -> int:
    text = str(value)
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_INDEX_ROWS):
        raise refuse(f"must be a whole number from 1 to {MAX_INDEX_ROWS}")
    return int(text)


class IndexQuery(Query):
    """GET /api/v1/deployments/index: which deployments the index page lists, newest first."""

    service: str | None = Field(None, description="only this service's deployments")
    environment: str | None = Field(None, description="only deployments into this environment")
    verdict: Annotated[DeploymentStatus, one_of(DeploymentStatus)] | None = Field(
        None, description="only deployments with this verdict (or status: running, pending, cancelled)"
    )
    limit: Annotated[int, Field(ge=1, le=MAX_INDEX_ROWS), BeforeValidator(_rows)] = Field(
        100, description="at most this many rows"
    )
    exp: str | None = _link_expiry()
    sig: str | None = _link_signature()

    @field_validator("service", "environment", "verdict", mode="before")
    @classmethod
    def _empty_is_any(cls, value: object) -> object:
        return None if value == "" else value  # an empty box of the page's filter form: any


MAX_NAME = 200


def _name(value: object) -> str:
    text = str(value)
    if not (0 < len(text) <= MAX_NAME and text.isprintable()):
        raise refuse(f"at most {MAX_NAME} printable characters")
    return text


class BacktestQuery(Query):
    """GET /api/v1/services/{service}/backtest: the range and how to judge it."""

    since: str = Field(
        "30d",
        description="start of the range: a duration back from now (30d, 12h, 2w), RFC 3339, Unix seconds "
        f"or now-30d; at most {API_MAX_SPAN_S / 86400:.0f} days before until",
    )
    until: str = Field("now", description="end of the range: RFC 3339, Unix seconds, now or now-1d")
    environment: Annotated[str, BeforeValidator(_name)] | None = Field(
        None, description="judge as a deployment into this environment would be (default: the config's)"
    )
    profile: Annotated[str, BeforeValidator(_name)] | None = Field(
        None, description="a profile the daemon offers (default: the environment's)"
    )

    def span(self, now: datetime) -> Window:
        """The range, resolved against ``now``; an :class:`InputError` naming the parameter."""
        return backtest_span(self.since, self.until, now, max_span_s=API_MAX_SPAN_S, names=("since", "until"))

    @model_validator(mode="after")
    def _in_range(self) -> BacktestQuery:
        try:
            self.span(datetime.now(UTC))
        except InputError as exc:
            message = str(exc)
            raise refuse(message, "until" if message.startswith("until") else "since") from None
        return self


# (route, method) -> the model of its query parameters; every other API operation takes none.
QUERIES: dict[tuple[str, str], type[Query]] = {
    ("/api/v1/deployments", "get"): ListQuery,
    ("/api/v1/deployments/index", "get"): IndexQuery,
    ("/api/v1/deployments/{id}", "get"): SignedLinkQuery,
    ("/api/v1/deployments/{id}/verdict", "get"): VerdictQuery,
    ("/api/v1/deployments/{id}/report", "get"): SignedLinkQuery,
    ("/api/v1/deployments/{id}/events", "get"): SignedLinkQuery,
    ("/api/v1/integrations/argo-rollouts/verdict", "get"): ArgoQuery,
    ("/api/v1/services/{service}/backtest", "get"): BacktestQuery,
}


def unknown_parameters(route: str, method: str, names: Iterable[str]) -> Problem | None:
    """The 400 for the first parameter of ``names`` that ``method route`` does not take, or None."""
    # aiohttp answers HEAD with the GET handler: it takes what GET takes.
    model = QUERIES.get((route, "get" if method.upper() == "HEAD" else method.lower()))
    taken = set(model.model_fields) if model is not None else set()
    unknown = sorted(set(names) - taken)
    if not unknown:
        return None
    takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
    return invalid(unknown[0], f"unknown query parameter of {method.upper()} {route}; {takes}")

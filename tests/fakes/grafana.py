"""A fake Grafana HTTP server for tests.

It stands in for Grafana 11.4, which the tests cannot run. Its behaviour follows the Grafana contract of
``docs/integrations.md``, and it validates every request body against the body schemas of Grafana's
published OpenAPI spec (Swagger 2.0 of Grafana 11.4.0, basePath ``/api``), kept in
``grafana_bodies.schema.json`` (``grafana_spec.py``). A body that does not match the spec is answered with
400 and recorded in :attr:`GrafanaFake.violations`; so is a request whose method and path are not in the
spec (answered with 404) and one the fake does not implement (501). Tests assert
``fake.violations == []``.

The server is an aiohttp application in a background thread with its own event loop
(``tests/fakes/server.py``), so synchronous clients (``grafana-client``, which uses niquests) and async
aiohttp code in the pytest-asyncio loop can both call it. All state sits behind one lock; the inspection
helpers (:attr:`GrafanaFake.folders`, :attr:`GrafanaFake.dashboards`, ...) return copies.

Implemented endpoints (below ``/api``; the spec's path templates):

* ``GET /health`` (no authentication), and ``GET /frontend/settings`` (``buildInfo``; read by grafana-client's
  ``connect()`` and ``version``; a real endpoint that the spec does not document);
* folders: ``GET|POST /folders``, ``GET|PUT|DELETE /folders/{folder_uid}``, ``GET /folders/id/{id}``;
* dashboards: ``POST /dashboards/db``, ``GET|DELETE /dashboards/uid/{uid}``;
* data sources: ``GET|POST /datasources``, ``GET|PUT|DELETE /datasources/uid/{uid}``,
  ``GET|DELETE /datasources/name/{name}``, ``GET /datasources/{id}``, ``GET /datasources/id/{name}``;
* annotations: ``GET|POST /annotations``, ``GET|PUT|PATCH|DELETE /annotations/{annotation_id}``;
* alerting provisioning: alert rules, rule groups, contact points and the notification policy tree.

Behaviour taken from Grafana's source where the contract is silent (each is marked at its code):

* a folder holding alert rules is deleted only with ``?forceDeleteRules=true`` (else 400, as the spec's
  description of the parameter says); its dashboards and sub-folders always go with it;
* folder-not-found on ``POST /dashboards/db`` answers 400 ``{"message": "folder not found"}``
  (``apierrors.ToDashboardErrorResponse`` maps ``dashboards.ErrFolderNotFound`` to 400);
* a fresh instance has the contact point ``grafana-default-email`` that the default policy routes to, and
  the policy tree may only name existing contact points;
* secure contact point settings (e.g. a Slack ``url``) read back as ``"[REDACTED]"``; sending
  ``"[REDACTED]"`` back keeps the stored secret;
* an alert query on a data source (not ``__expr__``) needs ``relativeTimeRange.from > to``.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import string
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from aiohttp import web

from .grafana_spec import GRAFANA_RELEASE, SpecOperation, load_spec
from .server import FakeServer, pick_headers, split_target, status_phrase
from .server import RecordedRequest as BaseRecordedRequest

GRAFANA_VERSION: Final = GRAFANA_RELEASE
ADMIN_TOKEN: Final = "admin-token"
VIEWER_TOKEN: Final = "viewer-token"
DEFAULT_TOKENS: Final[Mapping[str, str]] = {ADMIN_TOKEN: "Admin", VIEWER_TOKEN: "Viewer"}
DEFAULT_CONTACT_POINT: Final = "grafana-default-email"
DEFAULT_POLICY: Final[Mapping[str, Any]] = {
    "receiver": DEFAULT_CONTACT_POINT,
    "group_by": ["grafana_folder", "alertname"],
}
REDACTED: Final = "[REDACTED]"

Obj = dict[str, Any]

_ROLE_RANK: Final = {"Viewer": 1, "Editor": 2, "Admin": 3}
_MUTATING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RECORDED_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "Accept",
    "User-Agent",
    "X-Grafana-Org-Id",
    "X-Disable-Provenance",
)
# pkg/util/shortid_generator.go: IsValidShortUID / IsShortUIDTooLong.
_SHORT_UID: Final = re.compile(r"^[a-zA-Z0-9\-_]*$")
_SHORT_UID_MAX: Final = 40
# Prometheus model.ParseDuration (alert rule "for", policy group_wait/group_interval/repeat_interval).
_PROM_DURATION: Final = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
_BASE_INTERVAL_S: Final = 10  # the scheduler's base interval; rule group intervals are multiples of it
_NEW_GROUP_INTERVAL_S: Final = 60  # a rule POSTed into a group that does not exist yet
_UNIQUE_RULE: Final = (
    "a conflicting alert rule is found: rule title under the same organisation and folder should be unique"
)
# Settings Grafana stores encrypted and reads back redacted, per contact point type (alerting notifier
# schemas). Only the common types are listed.
_SECURE_SETTINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "alertmanager": ("basicAuthPassword",),
    "dingding": ("url",),
    "discord": ("url",),
    "googlechat": ("url",),
    "kafka": ("password",),
    "line": ("token",),
    "opsgenie": ("apiKey",),
    "pagerduty": ("integrationKey",),
    "pushover": ("userKey", "apiToken"),
    "sensugo": ("apiKey",),
    "slack": ("url", "token"),
    "telegram": ("bottoken",),
    "threema": ("api_secret",),
    "victorops": ("url",),
    "webhook": ("password", "authorization_credentials"),
    "wecom": ("url", "secret"),
}
# Settings a contact point of the type cannot do without; alternatives separated by "|".
_REQUIRED_SETTINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("addresses",),
    "webhook": ("url",),
    "slack": ("url|token",),
    "pagerduty": ("integrationKey",),
    "teams": ("url",),
    "discord": ("url",),
    "googlechat": ("url",),
    "opsgenie": ("apiKey",),
    "telegram": ("bottoken", "chatid"),
    "alertmanager": ("url",),
}


# --------------------------------------------------------------------------------------------------
# Records visible to tests
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest(BaseRecordedRequest):
    """A request the fake received and the status it answered: ``path`` decoded, with the ``/api`` prefix;
    ``headers`` the subset in ``_RECORDED_HEADERS`` that was present; ``body`` parsed JSON, the raw text if
    it was not JSON, None without a body."""

    disable_provenance: bool  # whether X-Disable-Provenance was present (any value)
    template: str | None = None  # the spec's path template, when one matched
    status: int = 0


@dataclass(frozen=True)
class SpecViolation:
    """A request that broke the spec (or reached an endpoint the fake does not implement)."""

    method: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.reason}"


@dataclass
class _Reply:
    status: int
    body: Any = None
    has_body: bool = True
    headers: dict[str, str] = field(default_factory=dict)


class _Abort(Exception):
    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _error(status: int, message: str, status_text: str | None = None, **extra: Any) -> _Reply:
    body: Obj = {"message": message}
    if status_text is not None:
        body["status"] = status_text
    body.update(extra)
    return _Reply(status, body)


def _abort(status: int, message: str, status_text: str | None = None, **extra: Any) -> NoReturn:
    raise _Abort(_error(status, message, status_text, **extra))


def _empty(status: int) -> _Reply:
    return _Reply(status, has_body=False)


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    role: str
    disable_provenance: bool

    @property
    def obj(self) -> Obj:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def provenance(self) -> str:
        # api_provisioning.go determineProvenance: header present => ProvenanceNone (""), else "api".
        return "" if self.disable_provenance else "api"

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int = 0) -> int:
        # Grafana's c.QueryInt: a missing or malformed value reads as 0.
        try:
            return int(self.arg(name, str(default)))
        except ValueError:
            return 0


@dataclass
class _Dashboard:
    id: int
    uid: str
    title: str
    folder_uid: str
    model: Obj
    version: int
    created: str
    updated: str


@dataclass
class _RuleGroup:
    interval: int
    rules: list[Obj]


Handler = Callable[[_Request], _Reply]

# Real Grafana endpoints that the spec does not document (pkg/api/api.go); requests to them are no
# violations.
_UNDOCUMENTED: Final[Mapping[tuple[str, str], SpecOperation]] = {
    ("GET", "/frontend/settings"): SpecOperation(
        "GET", "/frontend/settings", "getFrontendSettings", None, False
    ),
}


# What the fake serves: (method, spec path template) -> the GrafanaFake method that answers. Only these
# operations' bodies are kept in grafana_bodies.schema.json (extract_grafana_schema.py reads this table).
ROUTES: Final[Mapping[tuple[str, str], str]] = {
    ("GET", "/health"): "_get_health",
    ("GET", "/folders"): "_list_folders",
    ("POST", "/folders"): "_create_folder",
    ("GET", "/folders/{folder_uid}"): "_get_folder",
    ("PUT", "/folders/{folder_uid}"): "_update_folder",
    ("DELETE", "/folders/{folder_uid}"): "_delete_folder",
    ("GET", "/folders/id/{folder_id}"): "_get_folder_by_id",
    ("POST", "/dashboards/db"): "_save_dashboard",
    ("GET", "/dashboards/uid/{uid}"): "_get_dashboard",
    ("DELETE", "/dashboards/uid/{uid}"): "_delete_dashboard",
    ("GET", "/datasources"): "_list_datasources",
    ("POST", "/datasources"): "_add_datasource",
    ("GET", "/datasources/uid/{uid}"): "_get_datasource_by_uid",
    ("PUT", "/datasources/uid/{uid}"): "_update_datasource",
    ("DELETE", "/datasources/uid/{uid}"): "_delete_datasource_by_uid",
    ("GET", "/datasources/name/{name}"): "_get_datasource_by_name",
    ("DELETE", "/datasources/name/{name}"): "_delete_datasource_by_name",
    ("GET", "/datasources/{id}"): "_get_datasource_by_id",
    ("GET", "/datasources/id/{name}"): "_get_datasource_id",
    ("GET", "/annotations"): "_find_annotations",
    ("POST", "/annotations"): "_add_annotation",
    ("GET", "/annotations/{annotation_id}"): "_get_annotation",
    ("PUT", "/annotations/{annotation_id}"): "_update_annotation",
    ("PATCH", "/annotations/{annotation_id}"): "_update_annotation",
    ("DELETE", "/annotations/{annotation_id}"): "_delete_annotation",
    ("GET", "/v1/provisioning/alert-rules"): "_list_rules",
    ("POST", "/v1/provisioning/alert-rules"): "_create_rule",
    ("GET", "/v1/provisioning/alert-rules/{UID}"): "_get_rule",
    ("PUT", "/v1/provisioning/alert-rules/{UID}"): "_update_rule",
    ("DELETE", "/v1/provisioning/alert-rules/{UID}"): "_delete_rule",
    ("GET", "/v1/provisioning/folder/{FolderUID}/rule-groups/{Group}"): "_get_group",
    ("PUT", "/v1/provisioning/folder/{FolderUID}/rule-groups/{Group}"): "_put_group",
    ("DELETE", "/v1/provisioning/folder/{FolderUID}/rule-groups/{Group}"): "_delete_group",
    ("GET", "/v1/provisioning/contact-points"): "_list_contact_points",
    ("POST", "/v1/provisioning/contact-points"): "_create_contact_point",
    ("PUT", "/v1/provisioning/contact-points/{UID}"): "_update_contact_point",
    ("DELETE", "/v1/provisioning/contact-points/{UID}"): "_delete_contact_point",
    ("GET", "/v1/provisioning/policies"): "_get_policy",
    ("PUT", "/v1/provisioning/policies"): "_put_policy",
    ("DELETE", "/v1/provisioning/policies"): "_reset_policy",
    ("GET", "/frontend/settings"): "_get_frontend_settings",
}

# The routes that are operations of the published spec, whose bodies grafana_bodies.schema.json keeps.
DOCUMENTED_ROUTES: Final = frozenset(ROUTES) - frozenset(_UNDOCUMENTED)


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


class GrafanaFake(FakeServer[RecordedRequest]):
    """A Grafana 11.4 HTTP API on ``127.0.0.1`` and a free port, served from a background thread.

    ``tokens`` maps bearer tokens to roles (``Viewer``, ``Editor``, ``Admin``). ``folder_conflict_status``
    is what ``POST /api/folders`` answers for an existing uid: 412 ``version-mismatch`` (k8s-backed folders,
    the default) or 409 (legacy store). ``grafana13=True`` reproduces the Grafana 13.2.2
    observations of ``docs/integrations.md`` (Grafana, dashboards): an existing dashboard uid posted without
    ``overwrite`` and without ``dashboard.version`` answers 412 ``name-exists`` "A dashboard with the same
    uid already exists", an identical re-post keeps the version, and same-title dashboards in a folder are
    allowed.
    """

    _server_name = "grafana-fake"

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        folder_conflict_status: int = 412,
        grafana13: bool = False,
        host: str = "127.0.0.1",
        port: int | None = None,
        version: str = GRAFANA_VERSION,
    ) -> None:
        if folder_conflict_status not in (409, 412):
            raise ValueError(f"folder_conflict_status must be 409 or 412, not {folder_conflict_status}")
        self._tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
        unknown = sorted(set(self._tokens.values()) - set(_ROLE_RANK))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; use {sorted(_ROLE_RANK)}")
        self._folder_conflict_status = folder_conflict_status
        self._grafana13 = grafana13
        self._version = version
        super().__init__(host=host, port=port)
        self.spec = load_spec()
        self._routes = self._build_routes()
        self.reset()

    # ---- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all state, requests, violations and scripted failures (a fresh Grafana)."""
        with self._lock:
            self._ids = itertools.count(1)  # folders and dashboards share the legacy dashboard table
            self._folders: dict[str, Obj] = {}
            self._dashboards: dict[str, _Dashboard] = {}
            self._versions: dict[str, list[Obj]] = {}
            self._datasource_ids = itertools.count(1)
            self._datasources: dict[str, Obj] = {}
            self._annotation_ids = itertools.count(1)
            self._annotations: dict[int, Obj] = {}
            self._rule_ids = itertools.count(1)
            self._groups: dict[tuple[str, str], _RuleGroup] = {}
            self._contact_points: dict[str, Obj] = {}
            default: Obj = {
                "uid": self._new_uid(),
                "name": DEFAULT_CONTACT_POINT,
                "type": "email",
                "settings": {"addresses": "<example@email.com>"},
                "disableResolveMessage": False,
                "provenance": "",
            }
            self._contact_points[default["uid"]] = default
            self._policy: Obj = copy.deepcopy(dict(DEFAULT_POLICY))
            self._policy_provenance = ""
            self._forget_requests()
            self._violations: list[SpecViolation] = []
            self._writes = 0

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        times: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``"*"``) and ``path_prefix``
        (e.g. ``/api/dashboards/db``) with ``status`` and ``body`` (default ``{"message": <reason>}``).

        Scripted answers bypass authentication and the handlers; their bodies are still checked
        against the spec.
        """
        if body is None:
            body = {"message": status_phrase(status)}
        self._script_failure(method, path_prefix, status, times, body, headers)

    def clear_requests(self) -> None:
        """Forget the recorded requests and the write count (state and violations stay)."""
        with self._lock:
            super().clear_requests()
            self._writes = 0

    @property
    def violations(self) -> list[SpecViolation]:
        with self._lock:
            return list(self._violations)

    def writes(self) -> int:
        """How many mutating requests (POST/PUT/PATCH/DELETE) succeeded (2xx, not scripted)."""
        with self._lock:
            return self._writes

    # ---- state views (copies) ----------------------------------------------------------------

    @property
    def folders(self) -> dict[str, Obj]:
        """uid -> Folder as ``GET /api/folders/{uid}`` returns it to an admin."""
        with self._lock:
            return {uid: self._folder_json(f, "Admin") for uid, f in self._folders.items()}

    @property
    def dashboards(self) -> dict[str, Obj]:
        """uid -> the stored dashboard model (as posted, with id, uid and version set)."""
        with self._lock:
            return {uid: copy.deepcopy(d.model) for uid, d in self._dashboards.items()}

    def dashboard_versions(self, uid: str) -> list[Obj]:
        """Every saved model of the dashboard, oldest first (empty for an unknown uid)."""
        with self._lock:
            return copy.deepcopy(self._versions.get(uid, []))

    def dashboard_folder(self, uid: str) -> str:
        """The folder uid of a dashboard ("" for the General folder); KeyError when unknown."""
        with self._lock:
            return self._dashboards[uid].folder_uid

    @property
    def datasources(self) -> dict[str, Obj]:
        """uid -> DataSource as served, plus the ``secureJsonData`` that was sent."""
        with self._lock:
            return {
                uid: {**self._datasource_json(ds), "secureJsonData": dict(ds["secureJsonData"])}
                for uid, ds in self._datasources.items()
            }

    @property
    def annotations(self) -> list[Obj]:
        """All annotations in creation order."""
        with self._lock:
            return [copy.deepcopy(a) for _, a in sorted(self._annotations.items())]

    @property
    def alert_rules(self) -> dict[str, Obj]:
        """uid -> ProvisionedAlertRule (with ``provenance``)."""
        with self._lock:
            return {r["uid"]: copy.deepcopy(r) for g in self._groups.values() for r in g.rules}

    @property
    def rule_groups(self) -> dict[tuple[str, str], Obj]:
        """(folderUid, group title) -> AlertRuleGroup as ``GET .../rule-groups/{group}`` returns it."""
        with self._lock:
            return {key: self._group_json(key) for key in self._groups}

    @property
    def contact_points(self) -> dict[str, Obj]:
        """uid -> EmbeddedContactPoint with ``provenance`` and unredacted settings (includes the default)."""
        with self._lock:
            return copy.deepcopy(self._contact_points)

    @property
    def policy(self) -> Obj:
        """The notification policy tree as last PUT (without ``provenance``)."""
        with self._lock:
            return copy.deepcopy(self._policy)

    @property
    def policy_provenance(self) -> str:
        with self._lock:
            return self._policy_provenance

    # ---- a small synchronous client for tests ------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = ADMIN_TOKEN,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Call the fake over HTTP (``path`` below the root, e.g. ``/api/folders``).

        Returns (status, parsed JSON body or None). The request is recorded like any other.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method.upper())
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None

    # ---- request processing ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        reply = self._process(request.method, request.raw_path, request.headers, raw)
        if not reply.has_body:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.Response(
            status=reply.status,
            text=json.dumps(reply.body),
            content_type="application/json",
            headers=reply.headers,
        )

    def _process(self, method: str, raw_path: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        method = method.upper()
        path_part = raw_path.partition("?")[0]
        path, query = split_target(raw_path)
        body, body_error = _parse_body(raw)
        recorded = RecordedRequest(
            method=method,
            path=path,
            query=query,
            headers=pick_headers(headers, _RECORDED_HEADERS),
            body=body if body_error is None else raw.decode("utf-8", "replace"),
            disable_provenance="X-Disable-Provenance" in headers,
        )
        with self._lock:
            self._requests.append(recorded)
            try:
                reply = self._answer(method, path_part, path, query, headers, raw, body, body_error, recorded)
            except Exception as exc:  # a bug in the fake must not pass as a Grafana answer
                self._violate(method, path, f"GrafanaFake internal error: {exc!r}")
                reply = _error(500, f"GrafanaFake internal error: {exc!r}")
            recorded.status = reply.status
            return reply

    def _answer(
        self,
        method: str,
        raw_path: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        raw: bytes,
        body: Any,
        body_error: str | None,
        recorded: RecordedRequest,
    ) -> _Reply:
        operation, template, params = self.spec.match(method, raw_path)
        if operation is None:
            operation = _UNDOCUMENTED.get((method, path.removeprefix(self.spec.base_path).rstrip("/")))
            template = operation.template if operation is not None else template
        recorded.template = template
        problems: list[str] = []
        if operation is None:
            if template is None:
                self._violate(method, path, "no path of the spec matches")
            else:
                self._violate(method, path, f"the spec has no {method} operation on {template}")
        elif operation.body_schema is not None:
            if body_error is not None:
                problems = [f"body is not JSON ({body_error})"]
            elif not raw.strip():
                if operation.body_required:
                    problems = ["the spec requires a body and none was sent"]
            else:
                problems = self.spec.validate_body(operation, body)
            if problems:
                self._violate(
                    method, path, f"body does not match {operation.body_name}: " + "; ".join(problems)
                )

        scripted = self._take_failure(method, path)
        if scripted is not None:
            return _Reply(scripted.status, scripted.body, headers=scripted.headers)
        if operation is None:
            return _error(404, "Not found")
        try:
            role = "Admin" if operation.template == "/health" else self._authenticate(headers)
            needed = _required_role(method, operation.template)
            if _ROLE_RANK[role] < _ROLE_RANK[needed]:
                _abort(
                    403,
                    f"Access denied: you'll need additional permissions to perform this action "
                    f"(role {role}, {needed} needed)",
                    title="Access denied",
                )
            if problems:
                _abort(400, f"bad request data: {problems[0]}")
            handler = self._routes.get((method, operation.template))
            if handler is None:
                self._violate(
                    method, path, f"{method} {operation.template} is not implemented by GrafanaFake"
                )
                return _error(501, f"{method} {operation.template} is not implemented by GrafanaFake")
            request = _Request(
                method=method,
                path=path,
                params=params,
                query=query,
                body=body,
                role=role,
                disable_provenance="X-Disable-Provenance" in headers,
            )
            reply = handler(request)
        except _Abort as abort:
            return abort.reply
        if method in _MUTATING and 200 <= reply.status < 300:
            self._writes += 1
        return reply

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        role = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if role is None:
            _abort(401, "Invalid API key")
        return role

    def _violate(self, method: str, path: str, reason: str) -> None:
        self._violations.append(SpecViolation(method, path, reason))

    def _build_routes(self) -> dict[tuple[str, str], Handler]:
        routes: dict[tuple[str, str], Handler] = {key: getattr(self, name) for key, name in ROUTES.items()}
        missing = sorted(
            f"{m} {t}"
            for m, t in routes
            if (m, t) not in self.spec.operations and (m, t) not in _UNDOCUMENTED
        )
        if missing:
            raise RuntimeError(f"GrafanaFake routes not in the spec: {missing}")
        return routes

    def _new_uid(self) -> str:
        # util.GenerateShortUID: 14 characters, a letter first.
        while True:
            uid = _RANDOM.choice(string.ascii_lowercase) + "".join(
                _RANDOM.choices(string.ascii_lowercase + string.digits, k=13)
            )
            stores = (self._folders, self._dashboards, self._datasources, self._contact_points)
            if not any(uid in store for store in stores):
                return uid

    # ---- health ------------------------------------------------------------------------------

    def _get_health(self, request: _Request) -> _Reply:
        return _Reply(200, {"commit": "grafana-fake", "database": "ok", "version": self._version})

    def _get_frontend_settings(self, request: _Request) -> _Reply:
        # grafana-client's GrafanaApi.connect() and .version read buildInfo from here.
        build = {
            "version": self._version,
            "commit": "grafana-fake",
            "edition": "Open Source",
            "env": "production",
            "hideVersion": False,
            "hasUpdate": False,
            "latestVersion": "",
        }
        return _Reply(
            200,
            {"appUrl": self.url + "/", "appSubUrl": "", "buildInfo": build, "unifiedAlertingEnabled": True},
        )

    # ---- folders (docs/integrations.md; apierrors.ToFolderErrorResponse) -------------------------

    def _folder_json(self, folder: Obj, role: str, *, with_parents: bool = True) -> Obj:
        can_write = _ROLE_RANK[role] >= _ROLE_RANK["Editor"]
        out: Obj = {
            "id": folder["id"],
            "uid": folder["uid"],
            "orgId": 1,
            "title": folder["title"],
            "url": _folder_url(folder),
            "hasAcl": False,
            "canSave": can_write,
            "canEdit": can_write,
            "canAdmin": role == "Admin",
            "canDelete": can_write,
            "createdBy": "admin",
            "created": folder["created"],
            "updatedBy": "admin",
            "updated": folder["updated"],
            "version": folder["version"],
        }
        if folder["parentUid"]:
            out["parentUid"] = folder["parentUid"]
            if with_parents:
                out["parents"] = [
                    self._folder_json(p, role, with_parents=False) for p in self._ancestors(folder)
                ]
        return out

    def _ancestors(self, folder: Obj) -> list[Obj]:
        chain: list[Obj] = []
        parent = self._folders.get(folder["parentUid"])
        while parent is not None and parent not in chain:
            chain.insert(0, parent)
            parent = self._folders.get(parent["parentUid"])
        return chain

    def _descendants(self, uid: str) -> list[str]:
        found: list[str] = []
        pending = [uid]
        while pending:
            current = pending.pop()
            children = [f["uid"] for f in self._folders.values() if f["parentUid"] == current]
            found.extend(children)
            pending.extend(children)
        return found

    def _folder_or_404(self, uid: str) -> Obj:
        folder = self._folders.get(uid)
        if folder is None:
            _abort(404, "folder not found", "not-found")
        return folder

    def _list_folders(self, request: _Request) -> _Reply:
        parent = request.arg("parentUid")
        limit = request.int_arg("limit", 1000) or 1000
        page = max(request.int_arg("page", 1), 1)
        hits = sorted(
            (f for f in self._folders.values() if f["parentUid"] == parent),
            key=lambda f: (f["title"].lower(), f["uid"]),
        )[(page - 1) * limit : page * limit]
        return _Reply(
            200,
            [
                {
                    "id": f["id"],
                    "uid": f["uid"],
                    "title": f["title"],
                    **({"parentUid": f["parentUid"]} if f["parentUid"] else {}),
                }
                for f in hits
            ],
        )

    def _get_folder(self, request: _Request) -> _Reply:
        return _Reply(200, self._folder_json(self._folder_or_404(request.params["folder_uid"]), request.role))

    def _get_folder_by_id(self, request: _Request) -> _Reply:
        folder_id = _parse_int(request.params["folder_id"])
        folder = next((f for f in self._folders.values() if f["id"] == folder_id), None)
        if folder is None:
            _abort(404, "folder not found", "not-found")
        return _Reply(200, self._folder_json(folder, request.role))

    def _create_folder(self, request: _Request) -> _Reply:
        body = request.obj
        title = _text(body.get("title")).strip()
        if not title:
            _abort(400, "folder title cannot be empty")
        uid = _text(body.get("uid")).strip()
        parent = _text(body.get("parentUid"))
        if uid:
            _check_short_uid(uid)
            if uid == "general":
                _abort(400, "invalid uid for folder provided")
            if uid in self._folders or uid in self._dashboards:
                if self._folder_conflict_status == 409:
                    _abort(409, "a folder/dashboard with the same uid already exists")
                _abort(412, "the folder has been changed by someone else", "version-mismatch")
        else:
            uid = self._new_uid()
        if parent:
            self._folder_or_404(parent)
        now = _now()
        folder: Obj = {
            "id": next(self._ids),
            "uid": uid,
            "title": title,
            "description": _text(body.get("description")),
            "parentUid": parent,
            "version": 1,
            "created": now,
            "updated": now,
        }
        self._folders[uid] = folder
        return _Reply(200, self._folder_json(folder, request.role))

    def _update_folder(self, request: _Request) -> _Reply:
        folder = self._folder_or_404(request.params["folder_uid"])
        body = request.obj
        if body.get("overwrite") is not True and _as_int(body.get("version")) != folder["version"]:
            _abort(412, "the folder has been changed by someone else", "version-mismatch")
        if body.get("title") is not None:
            title = _text(body.get("title")).strip()
            if not title:
                _abort(400, "folder title cannot be empty")
            folder["title"] = title
        if body.get("description") is not None:
            folder["description"] = _text(body.get("description"))
        folder["version"] += 1
        folder["updated"] = _now()
        return _Reply(200, self._folder_json(folder, request.role))

    def _delete_folder(self, request: _Request) -> _Reply:
        folder = self._folder_or_404(request.params["folder_uid"])
        tree = {folder["uid"], *self._descendants(folder["uid"])}
        rules = sum(len(g.rules) for (f, _), g in self._groups.items() if f in tree)
        # The spec: forceDeleteRules=false makes the request fail if the folder holds alert rules
        # (folder.ErrFolderNotEmpty, 400); with true the rules go too.
        if rules and not _parse_bool(request.arg("forceDeleteRules")):
            _abort(400, "Folder cannot be deleted: folder is not empty", messageId="folder.not-empty")
        for key in [k for k in self._groups if k[0] in tree]:
            del self._groups[key]
        for uid in [u for u, d in self._dashboards.items() if d.folder_uid in tree]:
            del self._dashboards[uid]
            self._versions.pop(uid, None)
        for uid in tree:
            del self._folders[uid]
        title = folder["title"]
        return _Reply(200, {"title": title, "message": f"Folder {title} deleted", "id": folder["id"]})

    # ---- dashboards (docs/integrations.md; dashboards/database.go, errors.go) --------------------

    def _save_dashboard(self, request: _Request) -> _Reply:
        body = request.obj
        if body.get("isFolder") is True:
            _abort(400, "Use folders endpoint for saving folders.")
        model: Obj = copy.deepcopy(body["dashboard"]) if isinstance(body.get("dashboard"), dict) else {}
        overwrite = body.get("overwrite") is True
        if len(_text(body.get("message"))) > 500:
            _abort(400, "message too long, max 500 characters")
        title = _text(model.get("title")).strip()
        if not title:
            _abort(400, "Dashboard title cannot be empty", "empty-name")
        if len(title) > 5000:
            _abort(400, "Dashboard title cannot contain more than 5 000 characters", "title-too-long")
        uid = _text(model.get("uid")).strip()
        _check_short_uid(uid)
        dash_id = _as_int(model.get("id"))
        version_given = isinstance(model.get("version"), int | float) and not isinstance(
            model["version"], bool
        )
        version = _as_int(model.get("version"))

        folder_uid = _text(body.get("folderUid"))
        if folder_uid:
            if folder_uid not in self._folders:
                # ToDashboardErrorResponse maps dashboards.ErrFolderNotFound to 400.
                _abort(400, "folder not found")
        elif _as_int(body.get("folderId")):
            by_folder_id = next(
                (f for f in self._folders.values() if f["id"] == _as_int(body["folderId"])), None
            )
            if by_folder_id is None:
                _abort(400, "folder not found")
            folder_uid = by_folder_id["uid"]
        # else: no folder given => the dashboard goes (or moves) to the General folder.

        # getExistingDashboardByIDOrUIDForUpdate
        by_id: _Dashboard | None = None
        if dash_id > 0:
            by_id = next((d for d in self._dashboards.values() if d.id == dash_id), None)
            if by_id is None:
                _abort(404, "Dashboard not found", "not-found")
            uid = uid or by_id.uid
        by_uid = self._dashboards.get(uid) if uid else None
        if uid and by_uid is None and uid in self._folders:
            # Folders live in the legacy dashboard table too, so their uids are taken.
            _abort(400, "Dashboard cannot be changed to a folder")
        if by_id is not None and by_uid is not None and by_id.id != by_uid.id:
            _abort(400, "A dashboard with the same uid already exists")
        existing = by_id or by_uid
        if existing is not None:
            if self._grafana13 and not overwrite and not version_given:
                _abort(412, "A dashboard with the same uid already exists", "name-exists")
            if version != existing.version:
                if not overwrite:
                    _abort(412, "The dashboard has been changed by someone else", "version-mismatch")
                version = existing.version
        if not self._grafana13:
            # getExistingDashboardByTitleAndFolder (Grafana <= 11): overwrite takes the same-named one over.
            same_name = next(
                (
                    d
                    for d in self._dashboards.values()
                    if d.folder_uid == folder_uid
                    and d.title == title
                    and (existing is None or d.id != existing.id)
                ),
                None,
            )
            if same_name is not None:
                if not overwrite:
                    _abort(412, "A dashboard with the same name in the folder already exists", "name-exists")
                existing, uid, version = same_name, same_name.uid, same_name.version

        model["title"] = title
        if existing is not None and self._grafana13 and existing.folder_uid == folder_uid:
            unchanged = {**model, "uid": uid or existing.uid}
            if _content(unchanged) == _content(existing.model):  # 13.2.2: identical re-post, same version
                return _Reply(200, self._save_response(existing))
        now = _now()
        if existing is None:
            uid = uid or self._new_uid()
            new_id, new_version, created = next(self._ids), 1, now
        else:
            new_id, new_version, created = existing.id, version + 1, existing.created
            if existing.uid != uid:  # saved by id with a new uid
                del self._dashboards[existing.uid]
                self._versions[uid] = self._versions.pop(existing.uid, [])
        model.update({"id": new_id, "uid": uid, "version": new_version})
        dashboard = _Dashboard(new_id, uid, title, folder_uid, model, new_version, created, now)
        self._dashboards[uid] = dashboard
        self._versions.setdefault(uid, []).append(copy.deepcopy(model))
        return _Reply(200, self._save_response(dashboard))

    def _save_response(self, dashboard: _Dashboard) -> Obj:
        return {
            "status": "success",
            "slug": _slugify(dashboard.title),
            "version": dashboard.version,
            "id": dashboard.id,
            "uid": dashboard.uid,
            "url": _dashboard_url(dashboard),
            "folderUid": dashboard.folder_uid,
        }

    def _dashboard_or_404(self, uid: str) -> _Dashboard:
        dashboard = self._dashboards.get(uid)
        if dashboard is None:
            _abort(404, "Dashboard not found", "not-found")
        return dashboard

    def _get_dashboard(self, request: _Request) -> _Reply:
        dashboard = self._dashboard_or_404(request.params["uid"])
        folder = self._folders.get(dashboard.folder_uid)
        can_write = _ROLE_RANK[request.role] >= _ROLE_RANK["Editor"]
        actions = {"canAdd": can_write, "canEdit": can_write, "canDelete": can_write}
        meta: Obj = {
            "type": "db",
            "canSave": can_write,
            "canEdit": can_write,
            "canAdmin": request.role == "Admin",
            "canStar": True,
            "canDelete": can_write,
            "slug": _slugify(dashboard.title),
            "url": _dashboard_url(dashboard),
            "expires": "0001-01-01T00:00:00Z",
            "created": dashboard.created,
            "updated": dashboard.updated,
            "updatedBy": "admin",
            "createdBy": "admin",
            "version": dashboard.version,
            "hasAcl": False,
            "isFolder": False,
            "folderId": folder["id"] if folder else 0,
            "folderUid": dashboard.folder_uid,
            "folderTitle": folder["title"] if folder else "General",
            "folderUrl": _folder_url(folder) if folder else "",
            "provisioned": False,
            "provisionedExternalId": "",
            "annotationsPermissions": {"dashboard": actions, "organization": dict(actions)},
        }
        return _Reply(200, {"dashboard": copy.deepcopy(dashboard.model), "meta": meta})

    def _delete_dashboard(self, request: _Request) -> _Reply:
        dashboard = self._dashboard_or_404(request.params["uid"])
        del self._dashboards[dashboard.uid]
        self._versions.pop(dashboard.uid, None)
        return _Reply(
            200,
            {
                "title": dashboard.title,
                "message": f"Dashboard {dashboard.title} deleted",
                "id": dashboard.id,
                "uid": dashboard.uid,
            },
        )

    # ---- data sources (docs/integrations.md; pkg/api/datasources.go) -----------------------------

    def _datasource_json(self, ds: Obj) -> Obj:
        out = {k: copy.deepcopy(v) for k, v in ds.items() if k != "secureJsonData"}
        out["secureJsonFields"] = {k: True for k, v in ds["secureJsonData"].items() if v}
        return out

    def _datasource_or_404(self, ds: Obj | None) -> Obj:
        if ds is None:
            _abort(404, "Data source not found")
        return ds

    def _datasource_named(self, name: str) -> Obj | None:
        return next((d for d in self._datasources.values() if d["name"] == name), None)

    def _list_datasources(self, request: _Request) -> _Reply:
        items = [
            {
                "id": ds["id"],
                "uid": ds["uid"],
                "orgId": 1,
                "name": ds["name"],
                "type": ds["type"],
                "typeName": ds["type"],
                "typeLogoUrl": ds["typeLogoUrl"],
                "access": ds["access"],
                "url": ds["url"],
                "user": ds["user"],
                "database": ds["database"],
                "basicAuth": ds["basicAuth"],
                "isDefault": ds["isDefault"],
                "jsonData": copy.deepcopy(ds["jsonData"]),
                "readOnly": ds["readOnly"],
            }
            for ds in self._datasources.values()
        ]
        return _Reply(200, sorted(items, key=lambda d: d["name"].lower()))

    def _add_datasource(self, request: _Request) -> _Reply:
        body = request.obj
        name = _text(body.get("name"))
        uid = _text(body.get("uid"))
        if uid and (not _SHORT_UID.match(uid) or len(uid) > _SHORT_UID_MAX):
            _abort(400, "Failed to add datasource: invalid UID for datasource provided")  # wording unverified
        if self._datasource_named(name) is not None:
            _abort(409, "data source with the same name already exists")
        if uid and uid in self._datasources:
            _abort(409, "data source with the same uid already exists")
        ds: Obj = {
            "id": next(self._datasource_ids),
            "uid": uid or self._new_uid(),
            "orgId": 1,
            "name": name,
            "type": _text(body.get("type")),
            "typeLogoUrl": "public/img/icn-datasource.svg",
            "access": _text(body.get("access")) or "proxy",
            "url": _text(body.get("url")),
            "user": _text(body.get("user")),
            "database": _text(body.get("database")),
            "basicAuth": body.get("basicAuth") is True,
            "basicAuthUser": _text(body.get("basicAuthUser")),
            "withCredentials": body.get("withCredentials") is True,
            "isDefault": body.get("isDefault") is True,
            "jsonData": copy.deepcopy(body.get("jsonData") or {}),
            "version": 1,
            "readOnly": False,
            "secureJsonData": dict(body.get("secureJsonData") or {}),
        }
        self._set_default_datasource(ds)
        self._datasources[ds["uid"]] = ds
        return _Reply(
            200,
            {
                "message": "Datasource added",
                "id": ds["id"],
                "name": name,
                "datasource": self._datasource_json(ds),
            },
        )

    def _set_default_datasource(self, ds: Obj) -> None:
        if ds["isDefault"]:
            for other in self._datasources.values():
                if other is not ds:
                    other["isDefault"] = False

    def _update_datasource(self, request: _Request) -> _Reply:
        ds = self._datasource_or_404(self._datasources.get(request.params["uid"]))
        body = request.obj
        if ds["readOnly"]:
            _abort(403, "Cannot update read-only data source")
        name = _text(body.get("name"))
        clash = self._datasource_named(name)
        if clash is not None and clash is not ds:
            _abort(409, "Failed to update datasource: data source with the same name already exists")
        given = _as_int(body.get("version"))
        if given and given < ds["version"]:
            # Only older versions are refused, so provisioning may force an update with a higher one.
            _abort(409, "Datasource has already been updated by someone else. Please reload and try again")
        new_uid = _text(body.get("uid")) or ds["uid"]
        if new_uid != ds["uid"] and new_uid in self._datasources:
            _abort(409, "Failed to update datasource: data source with the same uid already exists")
        # A PUT replaces the data source; secureJsonData is merged into the stored secrets.
        ds.update(
            {
                "uid": new_uid,
                "name": name,
                "type": _text(body.get("type")),
                "access": _text(body.get("access")) or "proxy",
                "url": _text(body.get("url")),
                "user": _text(body.get("user")),
                "database": _text(body.get("database")),
                "basicAuth": body.get("basicAuth") is True,
                "basicAuthUser": _text(body.get("basicAuthUser")),
                "withCredentials": body.get("withCredentials") is True,
                "isDefault": body.get("isDefault") is True,
                "jsonData": copy.deepcopy(body.get("jsonData") or {}),
                "version": ds["version"] + 1,
            }
        )
        ds["secureJsonData"].update(body.get("secureJsonData") or {})
        if new_uid != request.params["uid"]:
            del self._datasources[request.params["uid"]]
            self._datasources[new_uid] = ds
        self._set_default_datasource(ds)
        return _Reply(
            200,
            {
                "message": "Datasource updated",
                "id": ds["id"],
                "name": name,
                "datasource": self._datasource_json(ds),
            },
        )

    def _get_datasource_by_uid(self, request: _Request) -> _Reply:
        return _Reply(
            200, self._datasource_json(self._datasource_or_404(self._datasources.get(request.params["uid"])))
        )

    def _get_datasource_by_name(self, request: _Request) -> _Reply:
        return _Reply(
            200,
            self._datasource_json(self._datasource_or_404(self._datasource_named(request.params["name"]))),
        )

    def _get_datasource_by_id(self, request: _Request) -> _Reply:
        if not request.params["id"].lstrip("-").isdigit():
            _abort(400, "id is invalid")
        ds_id = int(request.params["id"])
        ds = next((d for d in self._datasources.values() if d["id"] == ds_id), None)
        return _Reply(200, self._datasource_json(self._datasource_or_404(ds)))

    def _get_datasource_id(self, request: _Request) -> _Reply:
        return _Reply(
            200, {"id": self._datasource_or_404(self._datasource_named(request.params["name"]))["id"]}
        )

    def _delete_datasource(self, ds: Obj) -> _Reply:
        if ds["readOnly"]:
            _abort(403, "Cannot delete read-only data source")
        del self._datasources[ds["uid"]]
        return _Reply(200, {"message": "Data source deleted", "id": ds["id"]})

    def _delete_datasource_by_uid(self, request: _Request) -> _Reply:
        return self._delete_datasource(self._datasource_or_404(self._datasources.get(request.params["uid"])))

    def _delete_datasource_by_name(self, request: _Request) -> _Reply:
        return self._delete_datasource(
            self._datasource_or_404(self._datasource_named(request.params["name"]))
        )

    # ---- annotations (docs/integrations.md; pkg/api/annotations.go) ------------------------------

    def _add_annotation(self, request: _Request) -> _Reply:
        body = request.obj
        text = _text(body.get("text"))
        if not text:
            _abort(400, "Failed to save annotation")  # AnnotationError "text field should not be empty"
        dashboard_uid = _text(body.get("dashboardUID"))
        dashboard_id = _as_int(body.get("dashboardId"))
        if dashboard_uid and dashboard_uid in self._dashboards:  # an unknown uid is ignored, as Grafana does
            dashboard_id = self._dashboards[dashboard_uid].id
        created = _now_ms()
        start = _as_int(body.get("time")) or created
        annotation: Obj = {
            "id": next(self._annotation_ids),
            "alertId": 0,
            "alertName": "",
            "dashboardId": dashboard_id,
            "dashboardUID": dashboard_uid,
            "panelId": _as_int(body.get("panelId")),
            "userId": 1,
            "newState": "",
            "prevState": "",
            "created": created,
            "updated": created,
            "time": start,
            "timeEnd": _as_int(body.get("timeEnd")) or start,
            "text": text,
            "tags": _clean_tags(body.get("tags")),
            "login": "admin",
            "email": "admin@localhost",
            "avatarUrl": "/avatar/46d229b033af06a191ff2267bca9ae56",
            "data": copy.deepcopy(body.get("data") or {}),
        }
        self._annotations[annotation["id"]] = annotation
        return _Reply(200, {"message": "Annotation added", "id": annotation["id"]})

    def _find_annotations(self, request: _Request) -> _Reply:
        start, end = request.int_arg("from"), request.int_arg("to")
        tags = _clean_tags(request.query.get("tags", []))
        match_any = _parse_bool(request.arg("matchAny"))
        dashboard_uid = request.arg("dashboardUID")
        dashboard_id = request.int_arg("dashboardId")
        panel_id = request.int_arg("panelId")
        kind = request.arg("type")
        limit = request.int_arg("limit", 100) or 100
        found = []
        for annotation in self._annotations.values():
            if start > 0 and end > 0 and not (annotation["time"] <= end and annotation["timeEnd"] >= start):
                continue
            if tags:
                hits = [t in annotation["tags"] for t in tags]
                if not (any(hits) if match_any else all(hits)):
                    continue
            if dashboard_uid and annotation["dashboardUID"] != dashboard_uid:
                continue
            if dashboard_id and annotation["dashboardId"] != dashboard_id:
                continue
            if panel_id and annotation["panelId"] != panel_id:
                continue
            if kind == "alert":  # only user annotations exist here
                continue
            found.append(annotation)
        found.sort(key=lambda a: (a["time"], a["timeEnd"], a["id"]), reverse=True)
        return _Reply(200, copy.deepcopy(found[:limit]))

    def _annotation_or_404(self, request: _Request) -> Obj:
        annotation = self._annotations.get(_parse_int(request.params["annotation_id"]))
        if annotation is None:
            _abort(404, "Annotation not found")
        return annotation

    def _get_annotation(self, request: _Request) -> _Reply:
        return _Reply(200, copy.deepcopy(self._annotation_or_404(request)))

    def _update_annotation(self, request: _Request) -> _Reply:
        # PUT replaces text, time, timeEnd and tags; PATCH changes only the fields sent.
        annotation = self._annotation_or_404(request)
        body = request.obj
        patch = request.method == "PATCH"
        if body.get("text") is not None or not patch:
            annotation["text"] = _text(body.get("text"))
        for key in ("time", "timeEnd"):
            if body.get(key) is not None or not patch:
                annotation[key] = _as_int(body.get(key))
        if body.get("tags") is not None or not patch:
            annotation["tags"] = _clean_tags(body.get("tags"))
        if body.get("data") is not None:
            annotation["data"] = copy.deepcopy(body["data"])
        annotation["timeEnd"] = annotation["timeEnd"] or annotation["time"]
        annotation["updated"] = _now_ms()
        return _Reply(200, {"message": "Annotation patched" if patch else "Annotation updated"})

    def _delete_annotation(self, request: _Request) -> _Reply:
        annotation = self._annotation_or_404(request)
        del self._annotations[annotation["id"]]
        return _Reply(200, {"message": "Annotation deleted"})

    # ---- alert rules and rule groups (docs/integrations.md; api_provisioning.go) -----------------

    def _group_json(self, key: tuple[str, str]) -> Obj:
        group = self._groups[key]
        return {
            "title": key[1],
            "folderUid": key[0],
            "interval": group.interval,
            "rules": copy.deepcopy(group.rules),
        }

    def _find_rule(self, uid: str) -> tuple[tuple[str, str], int] | None:
        for key, group in self._groups.items():
            for index, rule in enumerate(group.rules):
                if rule["uid"] == uid:
                    return key, index
        return None

    def _check_rule(self, rule: Obj) -> None:
        """Grafana's validation of one alert rule beyond the spec (400 ``invalid alert rule: ...``)."""
        data = rule.get("data") or []
        if not data:
            _abort(400, "invalid alert rule: no queries or expressions are found")
        ref_ids = [_text(q.get("refId")) for q in data if isinstance(q, dict)]
        if _text(rule.get("condition")) not in ref_ids:
            _abort(
                400,
                f"invalid alert rule: condition {rule.get('condition')} does not exist, "
                f"must be one of [{','.join(ref_ids)}]",
            )
        for query in data:
            if isinstance(query, dict) and query.get("datasourceUid") != "__expr__":
                # AlertQuery.PreSave: a data source query needs From > To (durations in seconds).
                window = query.get("relativeTimeRange") or {}
                start, end = _as_int(window.get("from")), _as_int(window.get("to"))
                if not start > end:
                    _abort(
                        400,
                        f"invalid alert rule: invalid relative time range [From: {start}s, To: {end}s] "
                        f"in query {query.get('refId')}",
                    )
        if not _valid_duration(_text(rule.get("for"))):
            _abort(400, f"bad request data: invalid duration {rule.get('for')!r} for 'for'")
        settings = rule.get("notification_settings")
        if isinstance(settings, dict):
            receiver = _text(settings.get("receiver"))
            if receiver not in self._receiver_names():
                _abort(400, f"invalid alert rule: receiver '{receiver}' does not exist")

    def _check_title_unique(self, folder_uid: str, title: str, ignore_uids: set[str]) -> None:
        for (folder, _), group in self._groups.items():
            if folder != folder_uid:
                continue
            for rule in group.rules:
                if rule["title"] == title and rule["uid"] not in ignore_uids:
                    _abort(400, _UNIQUE_RULE)

    def _stored_rule(self, body: Obj, *, uid: str, rule_id: int, provenance: str) -> Obj:
        rule = copy.deepcopy(body)
        rule.update({"id": rule_id, "uid": uid, "orgID": 1, "updated": _now(), "provenance": provenance})
        rule.setdefault("isPaused", False)
        return rule

    def _folder_for_rules(self, folder_uid: str) -> None:
        if folder_uid not in self._folders:
            _abort(404, "folder not found")

    def _list_rules(self, request: _Request) -> _Reply:
        rules = sorted((r for g in self._groups.values() for r in g.rules), key=lambda r: r["id"])
        return _Reply(200, copy.deepcopy(rules))

    def _get_rule(self, request: _Request) -> _Reply:
        found = self._find_rule(request.params["UID"])
        if found is None:
            return _empty(404)  # response.Empty(404)
        key, index = found
        return _Reply(200, copy.deepcopy(self._groups[key].rules[index]))

    def _create_rule(self, request: _Request) -> _Reply:
        body = request.obj
        self._check_rule(body)
        folder_uid, group_title = _text(body.get("folderUID")), _text(body.get("ruleGroup"))
        self._folder_for_rules(folder_uid)
        uid = _text(body.get("uid")) or self._new_rule_uid()
        if self._find_rule(uid) is not None:
            _abort(400, _UNIQUE_RULE)
        self._check_title_unique(folder_uid, _text(body.get("title")), set())
        rule = self._stored_rule(body, uid=uid, rule_id=next(self._rule_ids), provenance=request.provenance)
        group = self._groups.setdefault((folder_uid, group_title), _RuleGroup(_NEW_GROUP_INTERVAL_S, []))
        group.rules.append(rule)
        return _Reply(201, copy.deepcopy(rule))

    def _update_rule(self, request: _Request) -> _Reply:
        uid = request.params["UID"]
        found = self._find_rule(uid)
        if found is None:
            return _empty(404)
        body = request.obj
        self._check_rule(body)
        folder_uid, group_title = _text(body.get("folderUID")), _text(body.get("ruleGroup"))
        self._folder_for_rules(folder_uid)
        self._check_title_unique(folder_uid, _text(body.get("title")), {uid})
        key, index = found
        old = self._groups[key].rules.pop(index)
        if not self._groups[key].rules:
            interval = self._groups.pop(key).interval
        else:
            interval = self._groups[key].interval
        rule = self._stored_rule(body, uid=uid, rule_id=old["id"], provenance=request.provenance)
        target = self._groups.setdefault((folder_uid, group_title), _RuleGroup(interval, []))
        if (folder_uid, group_title) == key:
            target.rules.insert(index, rule)
        else:
            target.rules.append(rule)
        return _Reply(200, copy.deepcopy(rule))

    def _delete_rule(self, request: _Request) -> _Reply:
        found = self._find_rule(request.params["UID"])
        if found is not None:
            key, index = found
            del self._groups[key].rules[index]
            if not self._groups[key].rules:
                del self._groups[key]
        return _empty(204)

    def _get_group(self, request: _Request) -> _Reply:
        key = (request.params["FolderUID"], request.params["Group"])
        if key not in self._groups:
            _abort(404, "rulegroup not found")
        return _Reply(200, self._group_json(key))

    def _put_group(self, request: _Request) -> _Reply:
        folder_uid, group_title = request.params["FolderUID"], request.params["Group"]
        key = (folder_uid, group_title)
        self._folder_for_rules(folder_uid)
        body = request.obj
        interval = _as_int(body.get("interval"))
        if interval <= 0 or interval % _BASE_INTERVAL_S:
            _abort(
                400,
                f"invalid alert rule: interval ({interval}) should be non-zero and divided exactly by "
                f"scheduler interval: {_BASE_INTERVAL_S}",
            )
        echo = {**copy.deepcopy(body), "folderUid": folder_uid, "title": group_title}
        posted = body.get("rules")
        if posted is None:  # ReplaceRuleGroup: without "rules" only the interval changes
            if key in self._groups:
                self._groups[key].interval = interval
            return _Reply(200, echo)

        current = {r["uid"]: r for r in self._groups[key].rules} if key in self._groups else {}
        seen_uids: set[str] = set()
        seen_titles: set[str] = set()
        for index, rule in enumerate(posted):
            # Stricter than Grafana (which overwrites them with the path's values): a rule naming another
            # folder or group is a mistake of the caller.
            if _text(rule.get("folderUID")) != folder_uid:
                _abort(
                    400, f"rules[{index}]: folderUID {rule.get('folderUID')!r} does not match {folder_uid!r}"
                )
            if _text(rule.get("ruleGroup")) != group_title:
                _abort(
                    400, f"rules[{index}]: ruleGroup {rule.get('ruleGroup')!r} does not match {group_title!r}"
                )
            self._check_rule(rule)
            uid = _text(rule.get("uid"))
            if uid:
                # Stricter than Grafana (which would move the rule into this group): a uid of a rule in
                # another group, or twice in the body, is a clash.
                if uid in seen_uids or (uid not in current and self._find_rule(uid) is not None):
                    _abort(400, _UNIQUE_RULE)
                seen_uids.add(uid)
            title = _text(rule.get("title"))
            if title in seen_titles:
                _abort(400, _UNIQUE_RULE)
            seen_titles.add(title)
            self._check_title_unique(folder_uid, title, set(current))

        rules = []
        for rule in posted:
            uid = _text(rule.get("uid")) or self._new_rule_uid()
            old = current.get(uid)
            rules.append(
                self._stored_rule(
                    rule,
                    uid=uid,
                    rule_id=old["id"] if old else next(self._rule_ids),
                    provenance=request.provenance,
                )
            )
        if rules:
            self._groups[key] = _RuleGroup(interval, rules)
        else:
            self._groups.pop(key, None)
        return _Reply(200, echo)

    def _delete_group(self, request: _Request) -> _Reply:
        key = (request.params["FolderUID"], request.params["Group"])
        if key not in self._groups:
            _abort(404, "rulegroup not found")
        del self._groups[key]
        return _empty(204)

    def _new_rule_uid(self) -> str:
        while True:
            uid = self._new_uid()
            if self._find_rule(uid) is None:
                return uid

    # ---- contact points and policies ---------------------------------------------------------

    def _receiver_names(self) -> set[str]:
        return {cp["name"] for cp in self._contact_points.values()}

    def _redacted(self, contact_point: Obj) -> Obj:
        out = copy.deepcopy(contact_point)
        settings = out.get("settings")
        if isinstance(settings, dict):
            for key in _SECURE_SETTINGS.get(out.get("type", ""), ()):
                if settings.get(key):
                    settings[key] = REDACTED
        return out

    def _check_contact_point(self, body: Obj) -> None:
        if not _text(body.get("name")).strip():
            _abort(400, "invalid object specification: name must not be empty")  # wording unverified
        settings = body.get("settings") or {}
        for required in _REQUIRED_SETTINGS.get(_text(body.get("type")), ()):
            if not any(settings.get(k) for k in required.split("|")):
                _abort(
                    400,
                    f"invalid object specification: required field '{required}' is not specified "
                    f"for type {body.get('type')}",
                )

    def _list_contact_points(self, request: _Request) -> _Reply:
        name = request.arg("name")
        points = [
            self._redacted(cp) for cp in self._contact_points.values() if not name or cp["name"] == name
        ]
        return _Reply(200, sorted(points, key=lambda cp: (cp["name"], cp["uid"])))

    def _create_contact_point(self, request: _Request) -> _Reply:
        body = request.obj
        self._check_contact_point(body)
        uid = _text(body.get("uid"))
        if uid and uid in self._contact_points:
            _abort(400, f"contact point with uid '{uid}' already exists")  # wording unverified
        contact_point: Obj = {
            "uid": uid or self._new_uid(),
            "name": _text(body.get("name")),
            "type": _text(body.get("type")),
            "settings": copy.deepcopy(body.get("settings") or {}),
            "disableResolveMessage": body.get("disableResolveMessage") is True,
            "provenance": request.provenance,
        }
        self._contact_points[contact_point["uid"]] = contact_point
        return _Reply(202, self._redacted(contact_point))

    def _update_contact_point(self, request: _Request) -> _Reply:
        stored = self._contact_points.get(request.params["UID"])
        if stored is None:
            _abort(404, "contact point not found")
        body = request.obj
        self._check_contact_point(body)
        settings = copy.deepcopy(body.get("settings") or {})
        for key, value in list(settings.items()):
            if value == REDACTED:  # the redacted placeholder keeps the stored secret
                settings[key] = stored["settings"].get(key, "")
        old_name, new_name = stored["name"], _text(body.get("name"))
        stored.update(
            {
                "name": new_name,
                "type": _text(body.get("type")),
                "settings": settings,
                "disableResolveMessage": body.get("disableResolveMessage") is True,
                "provenance": request.provenance,
            }
        )
        if old_name != new_name and old_name not in self._receiver_names():
            _rename_receiver(self._policy, old_name, new_name)  # Grafana renames the references too
        return _Reply(202, {"message": "contactpoint updated"})

    def _delete_contact_point(self, request: _Request) -> _Reply:
        stored = self._contact_points.get(request.params["UID"])
        if stored is not None:
            others = [
                cp
                for cp in self._contact_points.values()
                if cp is not stored and cp["name"] == stored["name"]
            ]
            if not others and stored["name"] in _route_receivers(self._policy):
                # 409 as in Grafana's errutil Conflict; older releases answered 500 (plain error).
                _abort(409, "Contact point is currently referenced by a notification policy.")
            del self._contact_points[stored["uid"]]
        return _Reply(202, {"message": "contactpoint deleted"})

    def _policy_json(self) -> Obj:
        tree = copy.deepcopy(self._policy)
        if self._policy_provenance:
            tree["provenance"] = self._policy_provenance
        return tree

    def _get_policy(self, request: _Request) -> _Reply:
        return _Reply(200, self._policy_json())

    def _put_policy(self, request: _Request) -> _Reply:
        tree = copy.deepcopy(request.obj)
        tree.pop("provenance", None)
        problem = _route_problem(tree, self._receiver_names(), root=True)
        if problem:
            _abort(400, f"invalid object specification: {problem}")
        self._policy = tree
        self._policy_provenance = request.provenance
        return _Reply(202, {"message": "policies updated"})

    def _reset_policy(self, request: _Request) -> _Reply:
        self._policy = copy.deepcopy(dict(DEFAULT_POLICY))
        self._policy_provenance = ""
        return _Reply(202, self._policy_json())


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------

_RANDOM = random.SystemRandom()


def _required_role(method: str, template: str) -> str:
    # Default RBAC of Grafana 11: the provisioning API is for admins (alert.provisioning:read/write),
    # data sources are written by admins, other writes need an editor, reads any role.
    if template.startswith("/v1/provisioning/"):
        return "Admin"
    if method == "GET":
        return "Viewer"
    if template.startswith("/datasources"):
        return "Admin"
    return "Editor"


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, str(exc)


def _text(value: Any) -> str:
    # simplejson MustString(): anything but a string reads as "".
    return value if isinstance(value, str) else ""


def _as_int(value: Any) -> int:
    # simplejson MustInt64(): numbers only; anything else reads as 0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _parse_bool(text: str) -> bool:
    # strconv.ParseBool
    return text in ("1", "t", "T", "true", "TRUE", "True")


def _check_short_uid(uid: str) -> None:
    if not _SHORT_UID.match(uid):
        _abort(400, "uid contains illegal characters")
    if len(uid) > _SHORT_UID_MAX:
        _abort(400, "uid too long, max 40 characters")


def _valid_duration(text: str) -> bool:
    return text == "0" or (bool(text) and _PROM_DURATION.match(text) is not None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _folder_url(folder: Obj) -> str:
    return f"/dashboards/f/{folder['uid']}/{_slugify(folder['title'])}"


def _dashboard_url(dashboard: _Dashboard) -> str:
    return f"/d/{dashboard.uid}/{_slugify(dashboard.title)}"


def _content(model: Obj) -> Obj:
    return {k: v for k, v in model.items() if k not in ("id", "version")}


def _clean_tags(tags: Any) -> list[str]:
    # tag.ParseTagPairs + JoinTagPairs: trimmed, empty ones dropped, duplicates removed.
    cleaned: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and tag.strip() and tag.strip() not in cleaned:
            cleaned.append(tag.strip())
    return cleaned


def _walk_routes(route: Obj) -> Iterator[Obj]:
    yield route
    for child in route.get("routes") or []:
        if isinstance(child, dict):
            yield from _walk_routes(child)


def _route_receivers(tree: Obj) -> set[str]:
    return {_text(r.get("receiver")) for r in _walk_routes(tree)} - {""}


def _rename_receiver(tree: Obj, old: str, new: str) -> None:
    for route in _walk_routes(tree):
        if route.get("receiver") == old:
            route["receiver"] = new


def _route_problem(route: Obj, receivers: set[str], *, root: bool) -> str:
    """definitions.Route Validate + ValidateReceivers + ValidateMuteTimes (no mute timings exist here)."""
    if root:
        if not _text(route.get("receiver")):
            return "root route must specify a default receiver"
        if any(route.get(k) for k in ("match", "match_re", "matchers", "object_matchers")):
            return "root route must not have any matchers"
        if route.get("mute_time_intervals"):
            return "root route must not have any mute time intervals"
    receiver = _text(route.get("receiver"))
    if receiver and receiver not in receivers:
        return f"receiver '{receiver}' does not exist"
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = route.get(key)
        if value is not None and not _valid_duration(_text(value)):
            return f"invalid {key} {value!r}"
    intervals = [*(route.get("mute_time_intervals") or []), *(route.get("active_time_intervals") or [])]
    if intervals:  # the fake has no mute timings, so every reference is dangling
        return f"mute time interval '{intervals[0]}' does not exist"
    for child in route.get("routes") or []:
        problem = _route_problem(child, receivers, root=False)
        if problem:
            return problem
    return ""

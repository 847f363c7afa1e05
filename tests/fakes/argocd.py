"""A fake Argo CD API server for tests.

The tests cannot run Argo CD, so this fake is built from the documented contract
(``docs/integrations.md``, Argo CD) and Argo CD's application API
(``server/application/application.proto`` served through grpc-gateway; ``server/application/application.go``
``Rollback``):

* ``GET /api/v1/applications/{name}`` answers the ``v1alpha1.Application`` (``spec.syncPolicy`` with optional
  ``automated``, ``status.history`` entries ``{id, revision, deployedAt, deployStartedAt, source,
  initiatedBy}``, ``status.sync.revision``, ``status.operationState``); ``GET /api/v1/applications``
  lists them (``?name=``, ``?projects=``);
* ``POST /api/v1/applications/{name}/rollback`` with ``{"id": N, "dryRun": bool, "prune": bool}`` (``id``
  as a number or a string: grpc-gateway reads int64 from both):

  - 400 ``FailedPrecondition`` (code 9) "rollback cannot be initiated when auto-sync is enabled" when
    ``spec.syncPolicy.automated`` is set;
  - 400 ``InvalidArgument`` (code 3) "application X does not have deployment with id N" for an unknown id;
  - 400 ``FailedPrecondition`` "another operation is already in progress" while an operation runs;
  - 404 ``NotFound`` (code 5) ``applications.argoproj.io "x" not found`` for an unknown application;
  - else the rollback is recorded (:attr:`ArgoCDFake.rollbacks`) and the Application with its new
    ``operation`` (a sync to the history entry's revision) is answered. With ``complete_operations=True``
    (the default) the sync completes at once, as if the controller ran it: ``status.sync.revision``
    becomes the entry's revision, a history entry (next id) is appended, ``status.operationState`` is
    ``Succeeded`` and ``operation`` is cleared on the stored Application. With ``False`` the operation stays
    ``Running`` until :meth:`ArgoCDFake.complete_operation`. ``dryRun: true`` changes nothing;
* ``POST /api/v1/applications/{name}/sync`` with ``{"revision": ..., "dryRun", "prune"}`` (the GitOps
  alternative; auto-sync does not block it) works the same way;
* ``GET /api/version``.

Errors use grpc-gateway's body ``{"error": msg, "code": <grpc code>, "message": msg}`` with the HTTP status
of the gRPC code (``runtime.HTTPStatusFromCode``). Authentication: ``Authorization: Bearer <token>`` (or the
``argocd.token`` cookie); a missing token answers 401 code 16 "no session information", an unknown one
401 "invalid session: token signature is invalid". ``tokens`` maps tokens to the set of application actions
they may do (``get``, ``sync``; ``"*"`` for all); a denied action answers 403 ``PermissionDenied`` (code 7)
"permission denied: applications, <action>, <project>/<name>, sub: <subject>". :data:`ADMIN_TOKEN` may do
anything.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from .server import FakeServer, pick_headers, split_target
from .server import RecordedRequest as BaseRecordedRequest

Obj = dict[str, Any]

ADMIN_TOKEN: Final = "argocd-admin-token"
"""A bearer token of the ``admin`` account (every action allowed)."""
ARGOCD_VERSION: Final[Mapping[str, str]] = {
    "Version": "v3.1.5+1f0c8ae",
    "BuildDate": "2025-09-10T14:46:08Z",
    "GitCommit": "1f0c8ae4b4b8d9a5f5b6c7d8e9f0a1b2c3d4e5f6",
    "GitTreeState": "clean",
    "GoVersion": "go1.24.6",
    "Compiler": "gc",
    "Platform": "linux/amd64",
    "KustomizeVersion": "v5.7.0",
    "HelmVersion": "v3.18.4+gd80839c",
    "KubectlVersion": "v0.33.1",
    "JsonnetVersion": "v0.21.0",
}
DEFAULT_NAMESPACE: Final = "argocd"
DEFAULT_DESTINATION: Final = "https://kubernetes.default.svc"

# google.golang.org/grpc/codes and grpc-gateway's runtime.HTTPStatusFromCode.
CODE_INVALID_ARGUMENT: Final = 3
CODE_NOT_FOUND: Final = 5
CODE_PERMISSION_DENIED: Final = 7
CODE_FAILED_PRECONDITION: Final = 9
CODE_UNAUTHENTICATED: Final = 16
_HTTP_STATUS: Final[Mapping[int, int]] = {
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}
_RECORDED_HEADERS: Final = ("Authorization", "Content-Type", "Accept", "User-Agent")
AUTO_SYNC_MESSAGE: Final = "rollback cannot be initiated when auto-sync is enabled"
OPERATION_IN_PROGRESS: Final = "another operation is already in progress"


class GrpcError(Exception):
    """An error answered with grpc-gateway's error body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 500)

    def body(self) -> Obj:
        return {"error": self.message, "code": self.code, "message": self.message}


@dataclass
class RecordedRequest(BaseRecordedRequest):
    status: int | None = None


@dataclass(frozen=True)
class Rollback:
    """A rollback the fake accepted (``dry_run`` ones included)."""

    app: str
    id: int
    revision: str
    dry_run: bool
    prune: bool
    user: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArgoCDFake(FakeServer[RecordedRequest]):
    """An Argo CD API server (v3.1) on ``127.0.0.1`` and a free port, served from a background thread.

    ``tokens`` maps bearer tokens to allowed application actions (``{"monitor-token": {"get", "sync"}}``);
    ``subjects`` maps tokens to the subject named in 403 messages (default: the token's key in ``tokens``);
    ``complete_operations`` makes a rollback's sync finish at once (see the module docstring).
    """

    _server_name = "argocd-fake"

    def __init__(
        self,
        *,
        tokens: Mapping[str, Iterable[str]] | None = None,
        subjects: Mapping[str, str] | None = None,
        complete_operations: bool = True,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, tls=tls)
        self._tokens: dict[str, frozenset[str]] = {ADMIN_TOKEN: frozenset({"*"})}
        self._subjects: dict[str, str] = {ADMIN_TOKEN: "admin"}
        for token, actions in (tokens or {}).items():
            self._tokens[token] = frozenset(actions)
            self._subjects[token] = (subjects or {}).get(token, token)
        self.complete_operations = complete_operations
        self.reset()

    # ---- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all applications, rollbacks, requests and scripted failures."""
        with self._lock:
            self._apps: dict[str, Obj] = {}
            self._rv = itertools.count(100)
            self._rollbacks: list[Rollback] = []
            self._forget_requests()

    def add_app(
        self,
        name: str,
        *,
        revisions: Sequence[str] = ("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",),
        auto_sync: bool = False,
        self_heal: bool = False,
        prune: bool = False,
        project: str = "default",
        repo_url: str = "https://git.example.com/shop/deploy.git",
        path: str = "apps/checkout",
        target_revision: str = "HEAD",
        destination_namespace: str | None = None,
        health: str = "Healthy",
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Obj:
        """Add an Application whose history holds one entry per revision (ids 0, 1, ...; the last one is
        deployed now). ``auto_sync`` sets ``spec.syncPolicy.automated``. Returns the Application."""
        if not revisions:
            raise ValueError("an application needs at least one deployed revision")
        source = {"repoURL": repo_url, "path": path, "targetRevision": target_revision}
        sync_policy: Obj = {}
        if auto_sync:
            sync_policy["automated"] = {"prune": prune, "selfHeal": self_heal}
        history = []
        for index, revision in enumerate(revisions):
            history.append(
                {
                    "revision": revision,
                    "deployedAt": _now(),
                    "id": index,
                    "source": copy.deepcopy(source),
                    "deployStartedAt": _now(),
                    "initiatedBy": {"automated": True} if auto_sync else {"username": "admin"},
                }
            )
        app: Obj = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": "",
                "generation": 1,
                "creationTimestamp": _now(),
            },
            "spec": {
                "source": source,
                "destination": {"server": DEFAULT_DESTINATION, "namespace": destination_namespace or name},
                "project": project,
                "syncPolicy": sync_policy,
            },
            "status": {
                "resources": [],
                "sync": {
                    "status": "Synced",
                    "comparedTo": {
                        "source": copy.deepcopy(source),
                        "destination": {"server": DEFAULT_DESTINATION},
                    },
                    "revision": revisions[-1],
                },
                "health": {"status": health, "lastTransitionTime": _now()},
                "history": history,
                "reconciledAt": _now(),
                "operationState": {
                    "operation": {
                        "sync": {"revision": revisions[-1]},
                        "initiatedBy": history[-1]["initiatedBy"],
                    },
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "syncResult": {"revision": revisions[-1], "source": copy.deepcopy(source)},
                    "startedAt": _now(),
                    "finishedAt": _now(),
                },
                "sourceType": "Directory",
                "summary": {},
            },
        }
        if not sync_policy:
            del app["spec"]["syncPolicy"]
        with self._lock:
            self._bump(app)
            self._apps[name] = app
            return copy.deepcopy(app)

    def set_auto_sync(
        self, name: str, enabled: bool, *, self_heal: bool = False, prune: bool = False
    ) -> None:
        """Switch ``spec.syncPolicy.automated`` on or off (as ``argocd app set --sync-policy``)."""
        with self._lock:
            app = self._require(name)
            if enabled:
                app["spec"].setdefault("syncPolicy", {})["automated"] = {
                    "prune": prune,
                    "selfHeal": self_heal,
                }
            else:
                app["spec"].get("syncPolicy", {}).pop("automated", None)
                if not app["spec"].get("syncPolicy"):
                    app["spec"].pop("syncPolicy", None)
            app["metadata"]["generation"] += 1
            self._bump(app)

    def deploy(self, name: str, revision: str, *, automated: bool = True) -> Obj:
        """Record a new deployment of ``revision`` (a sync by the controller, e.g. a bad release)."""
        with self._lock:
            app = self._require(name)
            self._finish_sync(app, revision, {"automated": True} if automated else {"username": "admin"})
            return copy.deepcopy(app)

    def complete_operation(self, name: str, *, phase: str = "Succeeded") -> Obj:
        """Finish the Application's running operation (``complete_operations=False``)."""
        with self._lock:
            app = self._require(name)
            operation = app.get("operation")
            if operation is None:
                raise ValueError(f"application {name} has no operation in progress")
            revision = operation["sync"]["revision"]
            if phase == "Succeeded":
                self._finish_sync(app, revision, operation.get("initiatedBy", {}))
            else:
                app.pop("operation", None)
                state = app["status"]["operationState"]
                state.update(
                    phase=phase, message=f"one or more objects failed to apply ({phase})", finishedAt=_now()
                )
                self._bump(app)
            return copy.deepcopy(app)

    def app(self, name: str) -> Obj | None:
        with self._lock:
            app = self._apps.get(name)
            return copy.deepcopy(app) if app is not None else None

    @property
    def rollbacks(self) -> list[Rollback]:
        with self._lock:
            return list(self._rollbacks)

    def fail_next(self, method: str, path_prefix: str, status: int, times: int = 1, body: Any = None) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``"*"``) and ``path_prefix`` with
        ``status`` and ``body`` (default: a grpc-gateway error body with code 13 ``Internal``)."""
        if body is None:
            body = GrpcError(13, "scripted failure").body()
        self._script_failure(method, path_prefix, status, times, body)

    # ---- internals -----------------------------------------------------------------------------

    def _bump(self, app: Obj) -> None:
        app["metadata"]["resourceVersion"] = str(next(self._rv))

    def _require(self, name: str) -> Obj:
        app = self._apps.get(name)
        if app is None:
            raise GrpcError(CODE_NOT_FOUND, f'applications.argoproj.io "{name}" not found')
        return app

    def _finish_sync(self, app: Obj, revision: str, initiated_by: Obj) -> None:
        status = app["status"]
        history = status.setdefault("history", [])
        source = copy.deepcopy(app["spec"]["source"])
        started = (status.get("operationState") or {}).get("startedAt", _now())
        history.append(
            {
                "revision": revision,
                "deployedAt": _now(),
                "id": max((int(h["id"]) for h in history), default=-1) + 1,
                "source": source,
                "deployStartedAt": started,
                "initiatedBy": copy.deepcopy(initiated_by),
            }
        )
        status["sync"]["revision"] = revision
        status["sync"]["status"] = "Synced"
        status["operationState"] = {
            "operation": {"sync": {"revision": revision}, "initiatedBy": copy.deepcopy(initiated_by)},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "syncResult": {"revision": revision, "source": source},
            "startedAt": started,
            "finishedAt": _now(),
        }
        app.pop("operation", None)
        self._bump(app)

    def _start_sync(self, app: Obj, revision: str, *, dry_run: bool, prune: bool, user: str) -> Obj:
        """Set the sync operation as ``argo.SetAppOperation`` does; answer the Application with it."""
        if app.get("operation") is not None:
            raise GrpcError(CODE_FAILED_PRECONDITION, OPERATION_IN_PROGRESS)
        initiated_by = {"username": user}
        operation: Obj = {
            "sync": {
                "revision": revision,
                "prune": prune,
                "syncStrategy": {"apply": {}},
            },
            "initiatedBy": initiated_by,
        }
        if dry_run:
            operation["sync"]["dryRun"] = True
        answer = copy.deepcopy(app)
        answer["operation"] = operation
        if dry_run:
            return answer
        app["operation"] = copy.deepcopy(operation)
        app["status"]["operationState"] = {
            "operation": copy.deepcopy(operation),
            "phase": "Running",
            "message": "",
            "startedAt": _now(),
        }
        self._bump(app)
        answer["metadata"]["resourceVersion"] = app["metadata"]["resourceVersion"]
        if self.complete_operations:
            self._finish_sync(app, revision, initiated_by)
        return answer

    # ---- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        status, body = self._process(request.method, request.raw_path, request.headers, request.cookies, raw)
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    def _process(
        self, method: str, raw_path: str, headers: Mapping[str, str], cookies: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any]:
        method = method.upper()
        path, query = split_target(raw_path)
        path = path.rstrip("/") or "/"
        body: Any = None
        body_error: str | None = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body, body_error = raw.decode("utf-8", "replace"), str(exc)
        recorded = RecordedRequest(method, path, query, pick_headers(headers, _RECORDED_HEADERS), body)
        with self._lock:
            failure = self._record(recorded)
            if failure is not None:
                recorded.status = failure.status
                return failure.status, failure.body
            try:
                status, answer = self._answer(method, path, query, headers, cookies, body, body_error)
            except GrpcError as error:
                status, answer = error.http_status, error.body()
            except Exception as exc:  # a bug in the fake must not pass as an Argo CD answer
                status, answer = 500, GrpcError(13, f"ArgoCDFake internal error: {exc!r}").body()
            recorded.status = status
            return status, answer

    def _authenticate(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        token = token or cookies.get("argocd.token", "")
        if not token:
            raise GrpcError(CODE_UNAUTHENTICATED, "no session information")
        if token not in self._tokens:
            raise GrpcError(CODE_UNAUTHENTICATED, "invalid session: token signature is invalid")
        return token

    def _enforce(self, token: str, action: str, app: Obj | None, name: str) -> None:
        actions = self._tokens[token]
        if "*" in actions or action in actions:
            return
        project = app["spec"]["project"] if app is not None else "default"
        raise GrpcError(
            CODE_PERMISSION_DENIED,
            f"permission denied: applications, {action}, {project}/{name}, sub: {self._subjects[token]}",
        )

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        body: Any,
        body_error: str | None,
    ) -> tuple[int, Any]:
        if path == "/api/version" and method == "GET":
            return 200, dict(ARGOCD_VERSION)
        if not path.startswith("/api/v1/"):
            return 404, {"error": "Not Found", "code": CODE_NOT_FOUND, "message": "Not Found"}
        token = self._authenticate(headers, cookies)
        parts = path.split("/")[3:]  # ["applications", name, action]
        if not parts or parts[0] != "applications" or len(parts) > 3:
            raise GrpcError(CODE_NOT_FOUND, f"Not Found: {path}")
        if len(parts) == 1:
            if method != "GET":
                raise GrpcError(12, f"method {method} not allowed on {path}")
            return 200, self._list(token, query)
        name = parts[1]
        action = parts[2] if len(parts) == 3 else None
        if action is None and method == "GET":
            app = self._apps.get(name)
            # Argo CD answers PermissionDenied, not NotFound, to users who may not get the app.
            self._enforce(token, "get", app, name)
            return 200, copy.deepcopy(self._require(name))
        if action in ("rollback", "sync") and method == "POST":
            if body_error is not None or (body is not None and not isinstance(body, dict)):
                raise GrpcError(CODE_INVALID_ARGUMENT, f"invalid character in request body: {body_error}")
            request = body or {}
            app = self._apps.get(name)
            self._enforce(token, "sync", app, name)
            app = self._require(name)
            user = self._subjects[token]
            dry_run, prune = bool(request.get("dryRun", False)), bool(request.get("prune", False))
            if action == "sync":
                revision = str(request.get("revision") or app["spec"]["source"].get("targetRevision", "HEAD"))
                return 200, self._start_sync(app, revision, dry_run=dry_run, prune=prune, user=user)
            return 200, self._rollback(app, request, dry_run=dry_run, prune=prune, user=user)
        raise GrpcError(12, f"method {method} not allowed on {path}")

    def _list(self, token: str, query: dict[str, list[str]]) -> Obj:
        names = set(query.get("name", []))
        projects = set(query.get("projects", []) + query.get("project", []))
        items = []
        for name, app in sorted(self._apps.items()):
            if (names and name not in names) or (projects and app["spec"]["project"] not in projects):
                continue
            actions = self._tokens[token]
            if "*" in actions or "get" in actions:
                items.append(copy.deepcopy(app))
        return {"metadata": {"resourceVersion": str(next(self._rv))}, "items": items}

    def _rollback(self, app: Obj, request: Obj, *, dry_run: bool, prune: bool, user: str) -> Obj:
        name = app["metadata"]["name"]
        raw_id = request.get("id", 0)
        try:
            history_id = int(raw_id)
        except (TypeError, ValueError):
            raise GrpcError(
                CODE_INVALID_ARGUMENT,
                f"proto: (line 1:7): invalid value for int64 type: {json.dumps(raw_id)}",
            ) from None
        if app["spec"].get("syncPolicy", {}).get("automated") is not None:
            raise GrpcError(CODE_FAILED_PRECONDITION, AUTO_SYNC_MESSAGE)
        entry = next((h for h in app["status"].get("history", []) if int(h["id"]) == history_id), None)
        if entry is None:
            raise GrpcError(
                CODE_INVALID_ARGUMENT, f"application {name} does not have deployment with id {history_id}"
            )
        answer = self._start_sync(app, entry["revision"], dry_run=dry_run, prune=prune, user=user)
        self._rollbacks.append(Rollback(name, history_id, entry["revision"], dry_run, prune, user))
        return answer

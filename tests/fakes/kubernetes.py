"""A fake Kubernetes API server for tests.

The tests cannot run a Kubernetes API server, so this fake is built from the documented contracts of
``docs/integrations.md`` (Kubernetes and Argo Rollouts): Argo Rollouts abort (merge-patch on the ``status``
subresource, 404 → main resource fallback), Helm release storage, the ``pod-template-hash`` and revision
conventions, plus the Kubernetes API conventions (``Status`` error objects, merge-patch,
strategic-merge-patch, JSON patch, the status subresource, discovery documents, ``resourceVersion``,
``metadata.generation``). Error messages are worded like the real API server's
(``deployments.apps "checkout" not found``, ``... is forbidden: User "..." cannot patch resource
"rollouts/status" in API group "argoproj.io" in the namespace "shop"``).

The server is an aiohttp application in a background thread with its own event loop
(``tests/fakes/server.py``, as for every fake), so synchronous clients (``kubernetes``, ``httpx``,
``urllib``, Helm's Go client through ``helm_python``) and async code in the pytest-asyncio loop can all call
it. All state sits behind one lock; inspection helpers return copies.

Served (answers are always JSON, which clients that also accept protobuf take; request bodies in protobuf,
``application/vnd.kubernetes.protobuf``, are decoded for core ``v1`` Secrets and ConfigMaps, which is what
Helm's Secret storage driver sends; other protobuf bodies answer 415):

* ``/version``, ``/healthz``, ``/livez``, ``/readyz`` (no authentication);
* discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/{group}``, ``/apis/{group}/{version}`` (the legacy,
  non-aggregated documents, which client-go falls back to when the answer is plain ``application/json``);
* ``/openapi/v3`` and ``/openapi/v3/{api/v1|apis/{group}/{version}}``: a small OpenAPI v3 document per
  group-version (paths with ``x-kubernetes-group-version-kind`` and the ``fieldValidation`` parameter, and
  permissive schemas) - enough for kubectl-style clients to know the server validates fields itself;
* core ``v1``: ``namespaces`` (get, list, create, delete), ``configmaps`` and ``secrets`` (get, list,
  create, update, patch, delete, deletecollection);
* ``apps/v1``: ``deployments`` and ``replicasets`` with their ``status`` subresources (same verbs);
* ``argoproj.io/v1alpha1``: ``rollouts``, with the ``status`` subresource when the fake is built with
  ``rollout_status_subresource=True`` (the default, as the Argo Rollouts CRD declares). Then a write to the
  main resource never changes ``.status`` and ``PATCH .../rollouts/{name}/status`` does; with ``False``,
  ``.../status`` answers 404 ``the server could not find the requested resource`` and writes to the main
  resource change ``.status`` (and, as for such CRDs, bump ``metadata.generation``).

Patch types: ``application/merge-patch+json`` (RFC 7386), ``application/json-patch+json`` (RFC 6902, what
``kubectl rollout undo`` sends), ``application/strategic-merge-patch+json`` (built-in kinds only; custom
resources answer 415 like the real server) and ``application/apply-patch+yaml`` (server-side apply; needs
``fieldManager``). Anything else answers 415 ``UnsupportedMediaType``.

Simplifications:

* strategic merge: maps merge recursively; lists of objects merge by the well-known merge keys of the pod
  template (``containers``/``initContainers``/``volumes``/``env``/``imagePullSecrets`` by ``name``,
  ``volumeMounts`` by ``mountPath``, ``ports`` by ``containerPort``, ``conditions`` by ``type``); other lists
  are replaced; ``$patch: replace|delete`` is honoured; ``$setElementOrder``/``$retainKeys`` are ignored.
  That is good enough for replacing or editing ``spec.template``.
* server-side apply keeps no ``managedFields``: the applied configuration is strategic-merged into the live
  object, and fields the same field manager applied last time but no longer applies are removed; there are
  no conflicts between managers.
* no defaulting of pod templates (``imagePullPolicy``, ``terminationMessagePath``, ...), no admission, no
  watch (``?watch=true`` answers 405 and is recorded in :attr:`KubernetesFake.unsupported`), no
  ``managedFields``, no finalizers or garbage collection (deleting a Deployment leaves its ReplicaSets).
* the Deployment "controller" runs synchronously right after each write (see below), and the pod
  template hash is FNV-32a of the canonical JSON of the template, encoded like ``rand.SafeEncodeString``
  (the real one hashes the Go struct dump, so the values differ from a real cluster's).

Controllers mimicked (switch them off with ``controllers=False``):

* Deployment: when ``spec.template`` changes (or on create), the ReplicaSet whose template equals it
  ignoring ``pod-template-hash`` is reused, else a new one ``<name>-<hash>`` is created with owner
  reference, ``pod-template-hash`` label and selector; it gets ``deployment.kubernetes.io/revision`` =
  highest revision + 1 (a reused one also gets ``deployment.kubernetes.io/revision-history``), is scaled to
  ``spec.replicas`` while the others go to 0, and the Deployment's revision annotation and status
  (``observedGeneration``, replica counts, ``Available``/``Progressing`` conditions) follow at once. Old
  ReplicaSets beyond ``spec.revisionHistoryLimit`` (default 10) are deleted. A paused Deployment only gets
  ``observedGeneration``. This is what ``kubectl rollout undo`` relies on.
* Rollout: the same ReplicaSet bookkeeping with ``rollouts-pod-template-hash`` and
  ``rollout.argoproj.io/revision``; ``status.currentPodHash``/``stableRS``/``phase``/``observedGeneration``
  (a string, as in Argo Rollouts). Setting ``status.abort: true`` gives ``abortedAt``, ``phase: Degraded``,
  ``message: "RolloutAborted: Rollout aborted update to revision N"`` and a ``Progressing=False`` condition
  with reason ``RolloutAborted`` (argo-rollouts ``conditions.RolloutAbortedMessage``); ``abort: false``
  retries (``Progressing``); a new template clears the abort; a template equal to the stable ReplicaSet's
  (an undo) makes the Rollout ``Healthy`` at once.

TLS: ``tls=True`` serves HTTPS with a throw-away CA made by the ``openssl`` command (:attr:`ca_file`). Go
clients need it: client-go's ``clientcmd`` (used by Helm, so by ``helm_python``) only sends the bearer token
when the transport is TLS, so against ``http://`` Helm is anonymous and gets 401.

Authentication and authorization: ``Authorization: Bearer <token>``. ``tokens`` maps tokens to grants:
``{"apps/deployments": {"get", "patch"}, "argoproj.io/rollouts/status": {"patch"}, "core/secrets": {"*"}}``
(key ``"<group>/<resource>[/<subresource>]"``, ``core`` or empty for the core group, ``"*"`` for every
resource, ``"<group>/*"`` for every resource of a group; a grant on a resource does not cover its
subresources, as in RBAC). :data:`ADMIN_TOKEN` is always accepted and may do anything. An unknown or
missing token answers 401 ``Unauthorized``; a verb not granted answers 403 ``Forbidden``. Discovery and
OpenAPI documents are readable by any authenticated user (``system:discovery``).
"""

from __future__ import annotations

import base64
import copy
import gzip
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import yaml
from aiohttp import web

from .server import BackgroundHTTPServer as BackgroundHTTPServer
from .server import FakeServer, pick_headers, split_target, status_phrase
from .server import RecordedRequest as BaseRecordedRequest
from .server import TLSFiles as TLSFiles
from .server import make_tls_files as make_tls_files

Obj = dict[str, Any]

ADMIN_TOKEN: Final = "admin-token"
"""A bearer token that may do anything (``kubernetes-admin``, group ``system:masters``)."""
ADMIN_USER: Final = "kubernetes-admin"
SERVER_VERSION: Final[Mapping[str, str]] = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.4",
    "gitCommit": "74cdb426e0a6ff9ba5ed0b3b5c8d7a2c1e2f3a4b",
    "gitTreeState": "clean",
    "buildDate": "2025-08-12T18:20:06Z",
    "goVersion": "go1.24.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")
VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")

PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
APPLY_PATCH: Final = "application/apply-patch+yaml"

DEPLOYMENT_REVISION: Final = "deployment.kubernetes.io/revision"
DEPLOYMENT_REVISION_HISTORY: Final = "deployment.kubernetes.io/revision-history"
POD_TEMPLATE_HASH: Final = "pod-template-hash"
ROLLOUT_REVISION: Final = "rollout.argoproj.io/revision"
ROLLOUT_POD_TEMPLATE_HASH: Final = "rollouts-pod-template-hash"

HELM_RELEASE_SECRET_TYPE: Final = "helm.sh/release.v1"

_NOT_FOUND_PATH: Final = "the server could not find the requested resource"
_CONFLICT: Final = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_DNS1123_SUBDOMAIN: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_SUBDOMAIN_MESSAGE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
# k8s.io/apimachinery/pkg/util/rand.SafeEncodeString's alphabet (no vowels, no 0/1/3).
_SAFE_ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"
_RECORDED_HEADERS: Final = ("Authorization", "Content-Type", "Accept", "User-Agent")
_APPLY_METADATA: Final = (("metadata", "labels"), ("metadata", "annotations"))
_ALWAYS_ALLOWED_PATHS: Final = frozenset({"/version", "/healthz", "/livez", "/readyz"})
_ALL: Final[Mapping[str, frozenset[str]]] = {"*": frozenset({"*"})}


# --------------------------------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    """One served resource: group, version, plural, kind, scope and the behaviour switches."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    builtin: bool = True
    has_generation: bool = False
    verbs: tuple[str, ...] = VERBS
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` (``configmaps`` for the core group), as in API error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps`` (``ConfigMap`` for the core group), as in ``Invalid`` error messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> str:
        """``apps/deployments``; ``core/configmaps`` for the core group (the grant key of ``tokens``)."""
        return f"{self.group or 'core'}/{self.plural}"

    @property
    def patch_types(self) -> tuple[str, ...]:
        if self.builtin:
            return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
        return (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)


def _resource_types(rollout_status_subresource: bool) -> tuple[ResourceType, ...]:
    return (
        ResourceType(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            namespaced=False,
            short_names=("ns",),
            status_subresource=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", short_names=("cm",)),
        ResourceType("", "v1", "secrets", "secret", "Secret"),
        ResourceType(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            short_names=("deploy",),
            status_subresource=True,
            has_generation=True,
            categories=("all",),
        ),
        ResourceType(
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            short_names=("rs",),
            status_subresource=True,
            has_generation=True,
            categories=("all",),
        ),
        ResourceType(
            "argoproj.io",
            "v1alpha1",
            "rollouts",
            "rollout",
            "Rollout",
            short_names=("ro",),
            status_subresource=rollout_status_subresource,
            builtin=False,
            has_generation=True,
            categories=("all",),
        ),
    )


# --------------------------------------------------------------------------------------------------
# Errors and replies
# --------------------------------------------------------------------------------------------------


class KubeError(Exception):
    """An API error answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str, **extra: Any) -> Obj:
    details: Obj = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details.update(extra)
    return details


def not_found(rt: ResourceType, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> KubeError:
    return KubeError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, why: str = _CONFLICT) -> KubeError:
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
        _details(rt, name),
    )


def invalid(rt: ResourceType, name: str, causes: Sequence[tuple[str, str, str]]) -> KubeError:
    """422 Invalid; ``causes`` are ``(reason, field, message)``, ``("FieldValueInvalid", "spec", ...)``."""
    text = "; ".join(f"{f}: {m}" for _, f, m in causes)
    if len(causes) > 1:
        text = "[" + ", ".join(f"{f}: {m}" for _, f, m in causes) + "]"
    details: Obj = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return KubeError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


def path_not_found() -> KubeError:
    return KubeError(404, "NotFound", _NOT_FOUND_PATH, {})


def method_not_allowed() -> KubeError:
    return KubeError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


@dataclass
class RecordedRequest(BaseRecordedRequest):
    """A request as the fake saw it; ``body`` is parsed JSON (or YAML for apply), else the raw text."""

    user: str | None = None
    status: int | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class _Reply:
    status: int
    body: Any


@dataclass
class _Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


# --------------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Merge keys of the lists strategic merge patch merges instead of replacing (k8s.io/api patchMergeKey tags).
_SMP_MERGE_KEYS: Final[Mapping[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "conditions": "type",
    "hostAliases": "ip",
    "ownerReferences": "uid",
}
_DELETE: Final = object()


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A simplified strategic merge patch (see the module docstring)."""
    result = _smp(target, patch)
    return None if result is _DELETE else result


def _smp(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key == "$patch" or key == "$retainKeys" or key.startswith("$setElementOrder/"):
            continue  # simplification: ordering and retainKeys directives are ignored
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [item for item in result[name] if item not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _SMP_MERGE_KEYS and all(isinstance(v, dict) for v in value):
            result[key] = _smp_list(result.get(key), value, _SMP_MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = _smp(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _smp_list(target: Any, patch: list[Obj], merge_key: str) -> list[Any]:
    if any(item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(item) for item in patch if item.get("$patch") != "replace"]
    result = [copy.deepcopy(item) for item in target] if isinstance(target, list) else []
    for item in patch:
        key = item.get(merge_key)
        index = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(merge_key) == key), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(copy.deepcopy(item))
        else:
            result[index] = _smp(result[index], item)
    return result


class JSONPatchError(ValueError):
    """The patch does not apply to the document (the API server answers 422)."""


class JSONPatchDecodeError(JSONPatchError):
    """The body is not a JSON patch (the API server answers 400)."""


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (``add``, ``remove``, ``replace``, ``move``, ``copy``, ``test``)."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        kind = "object" if isinstance(operations, dict) else "value"
        raise JSONPatchDecodeError(
            f"error decoding patch: json: cannot unmarshal {kind} into Go value of type "
            "[]handlers.jsonPatchOp"
        )
    doc = copy.deepcopy(document)
    for op in operations:
        if "op" not in op or "path" not in op:
            raise JSONPatchDecodeError(f"invalid JSON patch operation: {json.dumps(op)}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _pointer_set(doc, path, copy.deepcopy(op.get("value")), insert=True)
        elif kind == "remove":
            _pointer_get(doc, path, kind)
            doc = _pointer_remove(doc, path)
        elif kind == "replace":
            _pointer_get(doc, path, kind)
            doc = _pointer_set(doc, path, copy.deepcopy(op.get("value")), insert=False)
        elif kind in ("move", "copy"):
            value = copy.deepcopy(_pointer_get(doc, op.get("from", ""), kind))
            if kind == "move":
                doc = _pointer_remove(doc, op.get("from", ""))
            doc = _pointer_set(doc, path, value, insert=True)
        elif kind == "test":
            if _pointer_get(doc, path, kind) != op.get("value"):
                raise JSONPatchError(f"testing value {path} failed: test failed")
        else:
            raise JSONPatchError(f"Unexpected kind: {kind}")
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JSONPatchError(f'JSON pointer must be empty or start with a "/": {path}')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _pointer_get(doc: Any, path: str, kind: str) -> Any:
    node = doc
    for part in _pointer(path):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise JSONPatchError(
                f'{kind} operation does not apply: doc is missing path: "{path}": missing value'
            )
    return node


def _pointer_set(doc: Any, path: str, value: Any, *, insert: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _pointer_get(
        doc, "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts[:-1]), "add"
    )
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            if insert:
                parent.insert(int(last), value)
            elif int(last) < len(parent):
                parent[int(last)] = value
            else:
                raise JSONPatchError(f"replace operation does not apply: index {last} out of range")
        else:
            raise JSONPatchError(f"add operation does not apply: invalid index {last}")
    else:
        raise JSONPatchError(f'add operation does not apply: doc is missing path: "{path}"')
    return doc


def _pointer_remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return None
    parent = _pointer_get(
        doc, "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts[:-1]), "remove"
    )
    last = parts[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    return doc


def _leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Paths of the leaves of nested maps (lists are atomic), for the simplified server-side apply."""
    if isinstance(node, dict) and node:
        paths: set[tuple[str, ...]] = set()
        for key, value in node.items():
            paths |= _leaf_paths(value, (*prefix, key))
        return paths
    return {prefix}


def _remove_path(node: Any, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict) and path:
        node.pop(path[-1], None)


# --------------------------------------------------------------------------------------------------
# Protobuf request bodies (client-go clientsets, e.g. Helm's Secret storage driver, send protobuf)
# --------------------------------------------------------------------------------------------------

_PROTOBUF_MAGIC: Final = b"k8s\x00"


def _varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if index >= len(data):
            raise ValueError("truncated varint")
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, index


def _pb_fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a protobuf message: ints for varints, bytes for length-delimited fields."""
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire_type = key >> 3, key & 7
        value: Any
        if wire_type == 0:
            value, index = _varint(data, index)
        elif wire_type == 2:
            length, index = _varint(data, index)
            value, index = data[index : index + length], index + length
        elif wire_type == 1:
            value, index = data[index : index + 8], index + 8
        elif wire_type == 5:
            value, index = data[index : index + 4], index + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        yield number, value


def _pb_map_entry(data: bytes) -> tuple[str, bytes]:
    fields = dict(_pb_fields(data))
    return bytes(fields.get(1, b"")).decode(), bytes(fields.get(2, b""))


def _pb_object_meta(data: bytes) -> Obj:
    """``k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta`` (the fields a client sets)."""
    meta: Obj = {}
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for number, value in _pb_fields(data):
        if number in strings and value:
            meta[strings[number]] = bytes(value).decode()
        elif number == 7 and value:
            meta["generation"] = value
        elif number in (11, 12):
            key, item = _pb_map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 13:
            ref_fields = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
            ref: Obj = {}
            for ref_number, ref_value in _pb_fields(value):
                if ref_number in ref_fields:
                    ref[ref_fields[ref_number]] = bytes(ref_value).decode()
                elif ref_number in (6, 7):
                    ref["controller" if ref_number == 6 else "blockOwnerDeletion"] = bool(ref_value)
            meta.setdefault("ownerReferences", []).append(ref)
        elif number == 14:
            meta.setdefault("finalizers", []).append(bytes(value).decode())
    return meta


def decode_protobuf(raw: bytes) -> Obj:
    """A core ``v1`` Secret or ConfigMap in Kubernetes' protobuf encoding (``k8s\\0`` + ``runtime.Unknown``)
    as the JSON object; other kinds raise ``ValueError`` (the fake then answers 415)."""
    if not raw.startswith(_PROTOBUF_MAGIC):
        raise ValueError("the protobuf body does not start with the k8s\\0 magic")
    envelope = dict(_pb_fields(raw[len(_PROTOBUF_MAGIC) :]))
    type_meta = dict(_pb_fields(bytes(envelope.get(1, b""))))
    api_version = bytes(type_meta.get(1, b"")).decode()
    kind = bytes(type_meta.get(2, b"")).decode()
    if api_version != "v1" or kind not in ("Secret", "ConfigMap"):
        raise ValueError(
            f"the fake decodes protobuf only for v1 Secret and ConfigMap, not {api_version} {kind}"
        )
    obj: Obj = {"apiVersion": api_version, "kind": kind}
    for number, value in _pb_fields(bytes(envelope.get(2, b""))):
        if number == 1:
            obj["metadata"] = _pb_object_meta(value)
        elif kind == "Secret" and number in (2, 4):
            key, item = _pb_map_entry(value)
            if number == 2:
                obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
            else:
                obj.setdefault("stringData", {})[key] = item.decode()
        elif kind == "Secret" and number == 3 and value:
            obj["type"] = bytes(value).decode()
        elif (kind, number) in (("Secret", 5), ("ConfigMap", 4)):
            obj["immutable"] = bool(value)
        elif kind == "ConfigMap" and number in (2, 3):
            key, item = _pb_map_entry(value)
            if number == 2:
                obj.setdefault("data", {})[key] = item.decode()
            else:
                obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
    return obj


# --------------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------------

_REQUIREMENT: Final = re.compile(
    r"^\s*(?P<not>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[-A-Za-z0-9_.]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def parse_label_selector(selector: str) -> list[tuple[str, str, frozenset[str]]]:
    """``a=b,c!=d,e in (x,y),!f`` → requirements ``(key, operator, values)``; raises ``ValueError``."""
    terms: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    requirements: list[tuple[str, str, frozenset[str]]] = []
    for term in terms:
        if not term.strip():
            if selector.strip():
                raise ValueError(
                    f"unable to parse requirement: found '', expected: identifier in {selector!r}"
                )
            continue
        match = _REQUIREMENT.match(term)
        if match is None:
            raise ValueError(f"unable to parse requirement: invalid requirement {term.strip()!r}")
        key = match["key"]
        if match["not"]:
            if match["op"] or match["setop"]:
                raise ValueError(f"unable to parse requirement: invalid requirement {term.strip()!r}")
            requirements.append((key, "DoesNotExist", frozenset()))
        elif match["op"]:
            operator = "NotIn" if match["op"] == "!=" else "In"
            requirements.append((key, operator, frozenset({match["value"]})))
        elif match["setop"]:
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append((key, "In" if match["setop"] == "in" else "NotIn", values))
        else:
            requirements.append((key, "Exists", frozenset()))
    return requirements


def labels_match(labels: Mapping[str, str], requirements: Iterable[tuple[str, str, frozenset[str]]]) -> bool:
    for key, operator, values in requirements:
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selector_requirements(selector: Mapping[str, Any]) -> list[tuple[str, str, frozenset[str]]]:
    """A ``metav1.LabelSelector`` (``matchLabels`` and ``matchExpressions``) as requirements."""
    requirements = [(k, "In", frozenset({str(v)})) for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        requirements.append(
            (
                str(expression.get("key")),
                str(expression.get("operator")),
                frozenset(expression.get("values") or ()),
            )
        )
    return requirements


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _annotations(obj: Obj) -> dict[str, str]:
    meta = _meta(obj)
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    return annotations


def _without(obj: Mapping[str, Any], *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


def _comparable(obj: Obj) -> Obj:
    result = copy.deepcopy(obj)
    meta = result.get("metadata") or {}
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    return result


def pod_template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """FNV-32a of the canonical JSON of ``template`` (without ``*pod-template-hash`` labels), encoded like
    ``rand.SafeEncodeString(fmt.Sprint(hash))`` (a simplification of ``controller.ComputeHash``)."""
    stripped = _strip_hash_labels(template)
    data = json.dumps(stripped, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHANUMS[ord(c) % len(_SAFE_ALPHANUMS)] for c in str(value))


def _strip_hash_labels(template: Mapping[str, Any]) -> Obj:
    stripped = copy.deepcopy(dict(template))
    labels = (stripped.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
        labels.pop(ROLLOUT_POD_TEMPLATE_HASH, None)
    return stripped


def _go_map(labels: Mapping[str, Any]) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return f"map[string]string{{{inner}}}"


def encode_helm_release(release: Mapping[str, Any]) -> str:
    """Helm's storage encoding of a release: JSON, gzip, base64 (``pkg/storage/driver/util.go``)."""
    return base64.b64encode(gzip.compress(json.dumps(release).encode(), compresslevel=9)).decode()


def decode_helm_release(data: str | bytes) -> Obj:
    """Inverse of :func:`encode_helm_release` (also accepts Helm's un-gzipped legacy form)."""
    raw = base64.b64decode(data)
    if raw[:3] == b"\x1f\x8b\x08":
        raw = gzip.decompress(raw)
    decoded: Obj = json.loads(raw)
    return decoded


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


@dataclass
class _Grant:
    user: str
    rules: dict[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, rt: ResourceType, subresource: str | None, verb: str) -> bool:
        group = rt.group or "core"
        resource = rt.plural + (f"/{subresource}" if subresource else "")
        for key in ("*", f"{group}/*", f"{group}/{resource}", *((f"/{resource}",) if not rt.group else ())):
            verbs = self.rules.get(key)
            if verbs is not None and ("*" in verbs or verb in verbs):
                return True
        return False


class KubernetesFake(FakeServer[RecordedRequest]):
    """A Kubernetes API server (v1.33) on ``127.0.0.1`` and a free port, served from a background thread.

    Options: ``tokens`` (grants per bearer token, see the module docstring; :data:`ADMIN_TOKEN` is always
    there), ``users`` (token → user name in 403 messages; default
    ``system:serviceaccount:default:<token>``), ``rollout_status_subresource`` (whether the Rollout CRD
    declares the status subresource), ``controllers`` (mimic the Deployment and Rollout controllers),
    ``version`` (the ``/version`` document).
    """

    _server_name = "kubernetes-fake"

    def __init__(
        self,
        *,
        tokens: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
        users: Mapping[str, str] | None = None,
        rollout_status_subresource: bool = True,
        controllers: bool = True,
        version: Mapping[str, str] | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, tls=tls)
        self.rollout_status_subresource = rollout_status_subresource
        self.controllers = controllers
        self._version = dict(version or SERVER_VERSION)
        self._types = _resource_types(rollout_status_subresource)
        self._grants: dict[str, _Grant] = {ADMIN_TOKEN: _Grant(ADMIN_USER, dict(_ALL))}
        for token, rules in (tokens or {}).items():
            user = (users or {}).get(token, f"system:serviceaccount:default:{token}")
            grant = _Grant(user, {key: frozenset(verbs) for key, verbs in rules.items()})
            bad = sorted(v for verbs in grant.rules.values() for v in verbs if v != "*" and v not in VERBS)
            if bad:
                raise ValueError(f"unknown verbs {bad}; use {list(VERBS)} or '*'")
            self._grants[token] = grant
        if users and ADMIN_TOKEN in users:
            self._grants[ADMIN_TOKEN].user = users[ADMIN_TOKEN]
        self.reset()

    # ---- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all objects, requests and scripted failures (a fresh cluster with default namespaces)."""
        with self._lock:
            self._objects: dict[tuple[str, str, str, str], Obj] = {}
            self._applied: dict[tuple[str, str, str, str, str], Obj] = {}
            self._rv = itertools.count(1000)
            self._last_rv = 1000
            self._forget_requests()
            self._unsupported: list[str] = []
            for namespace in DEFAULT_NAMESPACES:
                self.add_namespace(namespace)

    def fail_next(self, method: str, path_prefix: str, status: int, times: int = 1, body: Any = None) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``"*"``) whose path starts with
        ``path_prefix`` (e.g. ``/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/x/status``) with
        ``status`` and ``body`` (default: a ``Status`` object with the status code's reason). Scripted
        answers bypass authentication."""
        if body is None:
            phrase = status_phrase(status)
            reason = {
                400: "BadRequest",
                401: "Unauthorized",
                403: "Forbidden",
                404: "NotFound",
                409: "Conflict",
                422: "Invalid",
                429: "TooManyRequests",
                500: "InternalError",
                503: "ServiceUnavailable",
                504: "Timeout",
            }.get(status, phrase.replace(" ", ""))
            body = KubeError(status, reason, phrase.lower(), {}).status()
        self._script_failure(method, path_prefix, status, times, body)

    def requests_to(self, method: str, path_prefix: str = "/") -> list[RecordedRequest]:
        """Recorded requests with this method (or ``"*"``) whose path starts with ``path_prefix``."""
        return super().requests_to(method, path_prefix)

    @property
    def unsupported(self) -> list[str]:
        """Requests the fake does not implement (watch, unknown paths), as ``"METHOD /path?query"``."""
        with self._lock:
            return list(self._unsupported)

    @property
    def resource_types(self) -> tuple[ResourceType, ...]:
        return self._types

    # ---- object helpers (no authentication, but the same validation as the API) ---------------

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        for rt in self._types:
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        raise KeyError(f"{kind} ({api_version}) is not served by the fake")

    def _rt_for(self, resource: str) -> ResourceType:
        """``"deployments"``, ``"apps/deployments"``, ``"Deployment"`` or ``"core/secrets"``."""
        group, _, plural = resource.rpartition("/")
        for rt in self._types:
            if plural in (rt.plural, rt.kind, rt.singular) and group in (
                "",
                rt.group,
                "core" if not rt.group else "-",
            ):
                return rt
        raise KeyError(f"resource {resource!r} is not served by the fake")

    def add_namespace(self, name: str) -> Obj:
        """Create the namespace unless it exists; returns it."""
        with self._lock:
            rt = self._rt_for("namespaces")
            existing = self._objects.get(("", "namespaces", "", name))
            if existing is not None:
                return copy.deepcopy(existing)
            return self._create(
                rt, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )

    def create(self, obj: Mapping[str, Any]) -> Obj:
        """Create ``obj`` (any served kind; its namespace is created if needed); returns the stored object."""
        with self._lock:
            rt = self.resource_type(str(obj.get("apiVersion")), str(obj.get("kind")))
            namespace = None
            if rt.namespaced:
                namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
                self.add_namespace(namespace)
            return self._create(rt, namespace, copy.deepcopy(dict(obj)))

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the object or ``None``; ``resource`` like ``"deployments"`` or ``"apps/deployments"``."""
        rt = self._rt_for(resource)
        with self._lock:
            obj = self._objects.get(self._key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(
        self, resource: str, namespace: str | None = None, labels: Mapping[str, str] | str | None = None
    ) -> list[Obj]:
        """Copies of the objects (all namespaces when ``namespace`` is None), filtered by a label map or a
        label selector string, sorted by namespace and name."""
        rt = self._rt_for(resource)
        if isinstance(labels, Mapping):
            requirements = [(k, "In", frozenset({v})) for k, v in labels.items()]
        else:
            requirements = parse_label_selector(labels or "")
        with self._lock:
            return [copy.deepcopy(o) for o in self._select(rt, namespace, requirements)]

    def set_status(self, resource: str, namespace: str | None, name: str, status: Mapping[str, Any]) -> Obj:
        """Merge ``status`` into the object's status as a controller would (bumps resourceVersion)."""
        rt = self._rt_for(resource)
        with self._lock:
            obj = self._require(rt, namespace, name)
            obj["status"] = merge_patch(obj.get("status") or {}, dict(status))
            return copy.deepcopy(self._store(rt, obj))

    def update(self, obj: Mapping[str, Any]) -> Obj:
        """Replace an object like ``PUT`` (status kept when the kind has the status subresource)."""
        with self._lock:
            rt = self.resource_type(str(obj.get("apiVersion")), str(obj.get("kind")))
            meta = obj.get("metadata") or {}
            namespace = str(meta.get("namespace") or "default") if rt.namespaced else None
            old = self._require(rt, namespace, str(meta.get("name")))
            return self._write(rt, namespace, str(meta.get("name")), old, copy.deepcopy(dict(obj)), None)

    def delete(self, resource: str, namespace: str | None, name: str) -> None:
        rt = self._rt_for(resource)
        with self._lock:
            self._require(rt, namespace, name)
            self._remove(rt, namespace, name)

    @property
    def resource_version(self) -> int:
        """The cluster's latest resourceVersion."""
        with self._lock:
            return self._last_rv

    # Deployments -------------------------------------------------------------------------------

    def add_deployment(
        self,
        namespace: str,
        name: str,
        template: Mapping[str, Any],
        *,
        revision_templates: Sequence[Mapping[str, Any]] = (),
        replicas: int = 1,
        selector: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        paused: bool = False,
        revision_history_limit: int = 10,
    ) -> Obj:
        """Create a Deployment whose earlier pod templates were ``revision_templates`` (revisions 1..n) and
        whose current template is ``template`` (revision n+1), with one ReplicaSet per distinct template.

        ``selector`` defaults to ``{"matchLabels": <template labels>}``. Returns the Deployment.
        """
        templates = [copy.deepcopy(dict(t)) for t in (*revision_templates, template)]
        selector = _default_selector(templates) if selector is None else selector
        deployment: Obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(labels or _labels(templates[-1])),
            },
            "spec": {
                "replicas": replicas,
                "selector": copy.deepcopy(dict(selector)),
                "template": templates[0],
                "revisionHistoryLimit": revision_history_limit,
            },
        }
        if annotations:
            deployment["metadata"]["annotations"] = dict(annotations)
        with self._lock:
            self.add_namespace(namespace)
            created = self._create(self._rt_for("apps/deployments"), namespace, deployment)
            for later in templates[1:]:
                current = self._require(self._rt_for("apps/deployments"), namespace, name)
                current["spec"]["template"] = later
                created = self._write(self._rt_for("apps/deployments"), namespace, name, None, current, None)
            if paused:
                current = self._require(self._rt_for("apps/deployments"), namespace, name)
                current["spec"]["paused"] = True
                self._write(self._rt_for("apps/deployments"), namespace, name, None, current, None)
            return self.get("apps/deployments", namespace, name) or created

    def deployment(self, namespace: str, name: str) -> Obj | None:
        return self.get("apps/deployments", namespace, name)

    def replicasets(self, namespace: str, owner: str | None = None) -> list[Obj]:
        """The namespace's ReplicaSets (only those controlled by Deployment or Rollout ``owner`` when
        given), oldest revision first."""
        with self._lock:
            items = self._select(self._rt_for("apps/replicasets"), namespace, [])
            if owner is not None:
                items = [
                    rs
                    for rs in items
                    if any(ref.get("name") == owner for ref in _meta(rs).get("ownerReferences") or [])
                ]
            items.sort(key=_revision)
            return [copy.deepcopy(rs) for rs in items]

    # Rollouts ----------------------------------------------------------------------------------

    def add_rollout(
        self,
        namespace: str,
        name: str,
        template: Mapping[str, Any],
        *,
        revision_templates: Sequence[Mapping[str, Any]] = (),
        promoted: bool = True,
        replicas: int = 1,
        selector: Mapping[str, Any] | None = None,
        strategy: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Obj:
        """Create an Argo Rollout with revisions like :meth:`add_deployment`. With ``promoted=False`` the
        current template is the canary still in progress (``phase: Progressing``) and the previous one is
        stable, which is the situation in which a monitor aborts. Returns the Rollout."""
        templates = [copy.deepcopy(dict(t)) for t in (*revision_templates, template)]
        if not promoted and len(templates) < 2:
            raise ValueError("promoted=False needs at least one revision_templates entry (the stable one)")
        selector = _default_selector(templates) if selector is None else selector
        rollout: Obj = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(labels or _labels(templates[-1])),
            },
            "spec": {
                "replicas": replicas,
                "selector": copy.deepcopy(dict(selector)),
                "template": templates[0],
                "strategy": copy.deepcopy(
                    dict(strategy or {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})
                ),
            },
        }
        rt = self._rt_for("argoproj.io/rollouts")
        with self._lock:
            self.add_namespace(namespace)
            self._create(rt, namespace, rollout)
            for index, later in enumerate(templates[1:], start=1):
                current = self._require(rt, namespace, name)
                current["spec"]["template"] = later
                self._write(rt, namespace, name, None, current, None)
                if promoted or index < len(templates) - 1:
                    self.promote_rollout(namespace, name)
            return self.get("argoproj.io/rollouts", namespace, name) or rollout

    def promote_rollout(self, namespace: str, name: str) -> Obj:
        """Finish the Rollout's update as the controller would after the last step: the current ReplicaSet
        becomes stable and the phase ``Healthy``."""
        rt = self._rt_for("argoproj.io/rollouts")
        with self._lock:
            rollout = self._require(rt, namespace, name)
            status = rollout.setdefault("status", {})
            status["stableRS"] = status.get("currentPodHash")
            status.pop("abort", None)
            status.pop("abortedAt", None)
            self._store(rt, rollout)
            self._sync_rollout(namespace, name)
            return self.get("argoproj.io/rollouts", namespace, name) or rollout

    def rollout(self, namespace: str, name: str) -> Obj | None:
        return self.get("argoproj.io/rollouts", namespace, name)

    # Helm release storage ----------------------------------------------------------------------

    def add_helm_release(
        self,
        namespace: str,
        name: str,
        revision: int,
        *,
        status: str = "deployed",
        chart: str = "app",
        chart_version: str = "0.1.0",
        app_version: str | None = None,
        values: Mapping[str, Any] | None = None,
        manifest: str = "",
        description: str | None = None,
    ) -> Obj:
        """Store a Helm release revision as Helm's Secret driver does (``sh.helm.release.v1.<name>.v<n>``,
        type ``helm.sh/release.v1``, labels ``owner=helm,name,status,version``, ``data.release`` =
        base64(gzip(JSON))). Returns the Secret."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        release: Obj = {
            "name": name,
            "info": {
                "first_deployed": now,
                "last_deployed": now,
                "deleted": "",
                "description": description or ("Install complete" if revision == 1 else "Upgrade complete"),
                "status": status,
            },
            "chart": {
                "metadata": {
                    "name": chart,
                    "version": chart_version,
                    "apiVersion": "v2",
                    "type": "application",
                },
                "lock": None,
                "templates": [],
                "values": {},
                "schema": None,
                "files": [],
            },
            "config": dict(values or {}),
            "manifest": manifest,
            "version": revision,
            "namespace": namespace,
        }
        if app_version is not None:
            release["chart"]["metadata"]["appVersion"] = app_version
        secret: Obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": HELM_RELEASE_SECRET_TYPE,
            "metadata": {
                "name": f"sh.helm.release.v1.{name}.v{revision}",
                "namespace": namespace,
                "labels": {"owner": "helm", "name": name, "status": status, "version": str(revision)},
            },
            "data": {"release": base64.b64encode(encode_helm_release(release).encode()).decode()},
        }
        return self.create(secret)

    def helm_releases(self, namespace: str, name: str | None = None) -> list[Obj]:
        """The decoded Helm releases stored as Secrets in ``namespace`` (of release ``name`` when given),
        ordered by revision."""
        selector = {"owner": "helm"} | ({"name": name} if name else {})
        releases = []
        for secret in self.list_objects("core/secrets", namespace, selector):
            data = (secret.get("data") or {}).get("release")
            if data:
                releases.append(decode_helm_release(base64.b64decode(data)))
        releases.sort(key=lambda r: (str(r.get("name")), int(r.get("version") or 0)))
        return releases

    # ---- storage internals ---------------------------------------------------------------------

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str, str]:
        return (rt.group, rt.plural, namespace or "" if rt.namespaced else "", name)

    def _require(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise not_found(rt, name)
        return copy.deepcopy(obj)

    def _select(
        self, rt: ResourceType, namespace: str | None, requirements: list[tuple[str, str, frozenset[str]]]
    ) -> list[Obj]:
        items = [
            obj
            for (group, plural, ns, _), obj in self._objects.items()
            if group == rt.group
            and plural == rt.plural
            and (namespace is None or ns == namespace)
            and labels_match(_labels(obj), requirements)
        ]
        items.sort(key=lambda o: (_meta(o).get("namespace", ""), _meta(o).get("name", "")))
        return items

    def _next_rv(self) -> str:
        self._last_rv = next(self._rv)
        return str(self._last_rv)

    def _store(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = _meta(obj)
        meta["resourceVersion"] = self._next_rv()
        stored = copy.deepcopy(obj)
        self._objects[self._key(rt, meta.get("namespace"), meta["name"])] = stored
        return stored

    def _remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects.pop(self._key(rt, namespace, name))
        self._next_rv()
        for applied in [k for k in self._applied if k[:4] == self._key(rt, namespace, name)]:
            del self._applied[applied]
        if rt.plural == "namespaces":  # the namespace controller deletes what the namespace held
            for key in [k for k in self._objects if k[2] == name]:
                del self._objects[key]
        return obj

    def _create(self, rt: ResourceType, namespace: str | None, obj: Obj, *, dry_run: bool = False) -> Obj:
        return self._write(rt, namespace, None, None, obj, None, dry_run=dry_run)

    def _write(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
        old: Obj | None,
        candidate: Obj,
        subresource: str | None,
        *,
        dry_run: bool = False,
    ) -> Obj:
        """Validate and store a create (``name`` None) or an update of ``old``; runs the controllers.

        ``old`` None with a ``name`` reads the current object (used by the helpers)."""
        if name is not None and old is None:
            old = self._require(rt, namespace, name)
        if not isinstance(candidate, dict):
            raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}')
        new = copy.deepcopy(candidate)
        for key, expected in (("apiVersion", rt.api_version), ("kind", rt.kind)):
            if new.get(key) not in (None, "", expected):
                raise bad_request(
                    f"the API version in the data ({new.get('apiVersion')}) does not match the expected API "
                    f"version ({rt.api_version})"
                    if key == "apiVersion"
                    else f"{key} {new.get(key)!r} does not match the expected kind {rt.kind!r}"
                )
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        new = {"apiVersion": rt.api_version, "kind": rt.kind, **_without(new, "apiVersion", "kind")}
        meta = _meta(new)
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

        if old is None:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = str(meta["generateName"]) + uuid.uuid4().hex[:5]
            obj_name = str(meta.get("name") or "")
            if not obj_name:
                raise invalid(
                    rt,
                    "",
                    [
                        (
                            "FieldValueRequired",
                            "metadata.name",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
            if rt.namespaced and ("", "namespaces", "", namespace or "") not in self._objects:
                raise not_found(self._rt_for("namespaces"), namespace or "")
            if self._key(rt, namespace, obj_name) in self._objects:
                raise already_exists(rt, obj_name)
            for key in ("resourceVersion", "deletionTimestamp", "managedFields"):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            if rt.has_generation:
                meta["generation"] = 1
            if rt.status_subresource:
                new.pop("status", None)  # status is the controllers' business, as for any status subresource
        else:
            obj_name = str(_meta(old)["name"])
            if meta.get("name") not in (None, "", obj_name):
                raise bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                    f"({obj_name})"
                )
            sent_rv = meta.get("resourceVersion")
            if sent_rv not in (None, "") and str(sent_rv) != _meta(old).get("resourceVersion"):
                raise conflict(rt, obj_name)
            if subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
                meta = _meta(new)
            else:
                if rt.status_subresource:
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
                for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                    if key in _meta(old):
                        meta[key] = _meta(old)[key]
                    else:
                        meta.pop(key, None)
                meta["name"] = obj_name
        meta.pop("managedFields", None)

        self._normalize(rt, new)
        self._validate(rt, obj_name, new, old)

        if old is not None:
            if _comparable(new) == _comparable(old):
                return copy.deepcopy(old)  # a no-op write keeps the resourceVersion
            if rt.has_generation:
                ignored = ("metadata",) if not rt.status_subresource else ("metadata", "status")
                if _without(new, *ignored) != _without(old, *ignored):
                    meta["generation"] = int(_meta(old).get("generation") or 1) + 1
        if dry_run:
            meta["resourceVersion"] = _meta(old).get("resourceVersion", "") if old is not None else ""
            return new
        stored = self._store(rt, new)
        if self.controllers:
            self._reconcile(rt, namespace, obj_name)
        return copy.deepcopy(stored)

    def _normalize(self, rt: ResourceType, obj: Obj) -> None:
        if rt.plural == "secrets":
            string_data = obj.pop("stringData", None)
            data = obj.get("data")
            if data is not None and not isinstance(data, dict):
                raise bad_request('Secret in version "v1" cannot be handled as a Secret: data must be a map')
            for value in (data or {}).values():
                try:
                    base64.b64decode(str(value), validate=True)
                except ValueError:
                    raise bad_request(
                        'Secret in version "v1" cannot be handled as a Secret: '
                        "illegal base64 data at input byte 0"
                    ) from None
            if string_data:
                obj["data"] = dict(data or {}) | {
                    k: base64.b64encode(str(v).encode()).decode() for k, v in string_data.items()
                }
            obj.setdefault("type", "Opaque")
        elif rt.plural == "namespaces":
            name = _meta(obj).get("name")
            labels = _meta(obj).setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        elif rt.plural == "deployments":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault(
                "strategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            )
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        elif rt.plural == "replicasets":
            obj.setdefault("spec", {}).setdefault("replicas", 1)

    def _validate(self, rt: ResourceType, name: str, obj: Obj, old: Obj | None) -> None:
        causes: list[tuple[str, str, str]] = []
        if old is None and (len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)):
            message = (
                _DNS1123_SUBDOMAIN_MESSAGE if len(name) <= 253 else "must be no more than 253 characters"
            )
            causes.append(("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {message}'))
        for section in ("labels", "annotations"):
            values = _meta(obj).get(section)
            if values is not None and (
                not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values())
            ):
                raise bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot '
                    f"unmarshal into Go struct field ObjectMeta.metadata.{section} of type string"
                )
        if rt.plural in ("deployments", "replicasets") or (
            rt.plural == "rollouts" and "template" in obj.get("spec", {})
        ):
            spec = obj.get("spec") or {}
            selector = spec.get("selector")
            template = spec.get("template") or {}
            if not selector:
                causes.append(("FieldValueRequired", "spec.selector", "Required value"))
            elif not labels_match(_labels(template), selector_requirements(selector)):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.template.metadata.labels",
                        f"Invalid value: {_go_map(_labels(template))}: "
                        "`selector` does not match template `labels`",
                    )
                )
            if rt.builtin and not ((template.get("spec") or {}).get("containers")):
                causes.append(("FieldValueRequired", "spec.template.spec.containers", "Required value"))
            replicas = spec.get("replicas")
            if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                )
            if old is not None and rt.builtin and selector != (old.get("spec") or {}).get("selector"):
                causes.append(
                    ("FieldValueInvalid", "spec.selector", "Invalid value: ...: field is immutable")
                )
        if causes:
            raise invalid(rt, name, causes)

    # ---- controllers ---------------------------------------------------------------------------

    def _reconcile(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if rt.plural == "deployments" and namespace is not None:
            self._sync_deployment(namespace, name)
        elif rt.plural == "rollouts" and namespace is not None:
            self._sync_rollout(namespace, name)

    def _owned_replicasets(self, namespace: str, owner_uid: str) -> list[Obj]:
        rs_type = self._rt_for("apps/replicasets")
        return [
            copy.deepcopy(rs)
            for rs in self._select(rs_type, namespace, [])
            if any(
                ref.get("uid") == owner_uid and ref.get("controller")
                for ref in _meta(rs).get("ownerReferences") or []
            )
        ]

    def _sync_replicasets(
        self, owner_rt: ResourceType, owner: Obj, hash_label: str, revision_key: str
    ) -> tuple[Obj, list[Obj]]:
        """Find or create the ReplicaSet of the owner's template and give it the newest revision;
        returns it and the owner's other ReplicaSets."""
        rs_type = self._rt_for("apps/replicasets")
        meta, spec = _meta(owner), owner["spec"]
        namespace, owner_uid = meta["namespace"], meta["uid"]
        template = spec["template"]
        owned = self._owned_replicasets(namespace, owner_uid)
        max_revision = max((_revision(rs, revision_key) for rs in owned), default=0)
        current = next(
            (
                rs
                for rs in owned
                if _strip_hash_labels(rs["spec"]["template"]) == _strip_hash_labels(template)
            ),
            None,
        )
        if current is None:
            collision = 0
            while True:
                template_hash = pod_template_hash(template, collision)
                if self._key(rs_type, namespace, f"{meta['name']}-{template_hash}") not in self._objects:
                    break
                collision += 1
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[hash_label] = template_hash
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})[hash_label] = template_hash
            current = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta['name']}-{template_hash}",
                    "namespace": namespace,
                    "labels": _labels(rs_template),
                    "annotations": {revision_key: str(max_revision + 1)},
                    "ownerReferences": [
                        {
                            "apiVersion": owner_rt.api_version,
                            "kind": owner_rt.kind,
                            "name": meta["name"],
                            "uid": owner_uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {"replicas": 0, "selector": selector, "template": rs_template},
            }
            if owner_rt.plural == "deployments":
                replicas = int(spec.get("replicas", 1))
                current["metadata"]["annotations"] |= {
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + max(1, (replicas + 3) // 4)),
                }
            current = self._write(rs_type, namespace, None, None, current, None)
        elif _revision(current, revision_key) < max_revision:
            annotations = _annotations(current)
            previous = annotations.get(revision_key, "")
            if owner_rt.plural == "deployments" and previous:
                history = [h for h in annotations.get(DEPLOYMENT_REVISION_HISTORY, "").split(",") if h]
                annotations[DEPLOYMENT_REVISION_HISTORY] = ",".join([*history, previous])
            annotations[revision_key] = str(max_revision + 1)
            current = self._store(rs_type, current)
        others = [rs for rs in owned if _meta(rs)["name"] != _meta(current)["name"]]
        return copy.deepcopy(current), others

    def _scale_replicaset(self, rs: Obj, replicas: int) -> Obj:
        rs_type = self._rt_for("apps/replicasets")
        stored = self._objects.get(self._key(rs_type, _meta(rs)["namespace"], _meta(rs)["name"]))
        if stored is None:
            return rs
        updated = copy.deepcopy(stored)
        updated["spec"]["replicas"] = replicas
        status: Obj = {"replicas": replicas}
        if replicas:
            status |= {
                "fullyLabeledReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
            }
        status["observedGeneration"] = _meta(updated).get("generation", 1)
        updated["status"] = status
        if updated != stored:
            if updated["spec"] != stored["spec"]:
                _meta(updated)["generation"] = int(_meta(stored).get("generation") or 1) + 1
                status["observedGeneration"] = _meta(updated)["generation"]
            return self._store(rs_type, updated)
        return stored

    def _prune_replicasets(self, others: list[Obj], limit: int, revision_key: str) -> None:
        rs_type = self._rt_for("apps/replicasets")
        idle = sorted(
            (rs for rs in others if not rs["spec"].get("replicas")),
            key=lambda rs: _revision(rs, revision_key),
        )
        for rs in idle[: max(0, len(idle) - limit)]:
            self._remove(rs_type, _meta(rs)["namespace"], _meta(rs)["name"])

    def _sync_deployment(self, namespace: str, name: str) -> None:
        rt = self._rt_for("apps/deployments")
        stored = self._objects.get(self._key(rt, namespace, name))
        if stored is None:
            return
        deployment = copy.deepcopy(stored)
        spec = deployment["spec"]
        status = deployment.setdefault("status", {})
        if spec.get("paused"):
            status["observedGeneration"] = _meta(deployment).get("generation", 1)
            if deployment != stored:
                self._store(rt, deployment)
            return
        current, others = self._sync_replicasets(rt, deployment, POD_TEMPLATE_HASH, DEPLOYMENT_REVISION)
        replicas = int(spec.get("replicas", 1))
        current = self._scale_replicaset(current, replicas)
        for rs in others:
            self._scale_replicaset(rs, 0)
        self._prune_replicasets(
            [
                rs
                for rs in self._owned_replicasets(namespace, _meta(deployment)["uid"])
                if _meta(rs)["name"] != _meta(current)["name"]
            ],
            int(spec.get("revisionHistoryLimit", 10)),
            DEPLOYMENT_REVISION,
        )
        _annotations(deployment)[DEPLOYMENT_REVISION] = _annotations(current)[DEPLOYMENT_REVISION]
        now = _now()
        previous = {c.get("type"): c for c in status.get("conditions") or []}

        def condition(kind: str, reason: str, message: str) -> Obj:
            old = previous.get(kind) or {}
            same = old.get("reason") == reason and old.get("message") == message
            return {
                "type": kind,
                "status": "True",
                "lastUpdateTime": old.get("lastUpdateTime", now) if same else now,
                "lastTransitionTime": old.get("lastTransitionTime", now)
                if old.get("status") == "True"
                else now,
                "reason": reason,
                "message": message,
            }

        new_status: Obj = {"observedGeneration": _meta(deployment).get("generation", 1), "replicas": replicas}
        if replicas:
            new_status |= {
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
            }
        new_status["conditions"] = [
            condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            condition(
                "Progressing",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{_meta(current)["name"]}" has successfully progressed.',
            ),
        ]
        deployment["status"] = new_status
        if deployment != stored:
            self._store(rt, deployment)

    def _sync_rollout(self, namespace: str, name: str) -> None:
        rt = self._rt_for("argoproj.io/rollouts")
        stored = self._objects.get(self._key(rt, namespace, name))
        if stored is None or not isinstance((stored.get("spec") or {}).get("template"), dict):
            return
        rollout = copy.deepcopy(stored)
        spec = rollout["spec"]
        status = rollout.setdefault("status", {})
        previous_hash = status.get("currentPodHash")
        current, others = self._sync_replicasets(rt, rollout, ROLLOUT_POD_TEMPLATE_HASH, ROLLOUT_REVISION)
        current_hash = _labels(current)[ROLLOUT_POD_TEMPLATE_HASH]
        revision = _annotations(current)[ROLLOUT_REVISION]
        _annotations(rollout)[ROLLOUT_REVISION] = revision
        replicas = int(spec.get("replicas", 1))
        if previous_hash is not None and previous_hash != current_hash:
            status.pop("abort", None)  # a new update clears the abort (argo-rollouts resets it on a new hash)
            status.pop("abortedAt", None)
        status["currentPodHash"] = current_hash
        stable = status.setdefault("stableRS", current_hash)
        now = _now()
        if stable == current_hash:
            status["phase"], status["message"] = "Healthy", ""
            status.pop("abort", None)
            status.pop("abortedAt", None)
            progressing = ("True", "NewReplicaSetAvailable", "Rollout is healthy")
        elif status.get("abort"):
            status.setdefault("abortedAt", now)
            message = f"Rollout aborted update to revision {revision}"
            status["phase"], status["message"] = "Degraded", f"RolloutAborted: {message}"
            progressing = ("False", "RolloutAborted", message)
        else:
            status.pop("abortedAt", None)
            status["phase"], status["message"] = "Progressing", "more replicas need to be updated"
            progressing = (
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{_meta(current)["name"]}" is progressing.',
            )
        if not status["message"]:
            del status["message"]
        old_conditions = {c.get("type"): c for c in status.get("conditions") or []}
        old = old_conditions.get("Progressing") or {}
        changed = (old.get("status"), old.get("reason"), old.get("message")) != progressing
        old_conditions["Progressing"] = {
            "type": "Progressing",
            "status": progressing[0],
            "reason": progressing[1],
            "message": progressing[2],
            "lastUpdateTime": now if changed else old.get("lastUpdateTime", now),
            "lastTransitionTime": now
            if old.get("status") != progressing[0]
            else old.get("lastTransitionTime", now),
        }
        status["conditions"] = list(old_conditions.values())
        status["observedGeneration"] = str(_meta(rollout).get("generation", 1))
        status["replicas"] = replicas
        status["updatedReplicas"] = replicas if stable == current_hash else min(replicas, 1)
        status["readyReplicas"] = status["availableReplicas"] = replicas
        for rs in [current, *others]:
            rs_hash = _labels(rs).get(ROLLOUT_POD_TEMPLATE_HASH)
            if rs_hash == stable:
                self._scale_replicaset(rs, replicas)
            elif rs_hash == current_hash and not status.get("abort"):
                self._scale_replicaset(rs, min(replicas, 1))
            else:
                self._scale_replicaset(rs, 0)
        if rollout != stored:
            self._store(rt, rollout)  # a controller's write never bumps metadata.generation

    # ---- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        reply = self._process(request.method, request.raw_path, request.headers, raw)
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, content_type="text/plain")
        return web.Response(status=reply.status, text=json.dumps(reply.body), content_type="application/json")

    def _process(self, method: str, raw_path: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        method = method.upper()
        path, query = split_target(raw_path)
        content_type = headers.get("Content-Type", "").split(";")[0].strip()
        body: Any = None
        body_error: str | None = None
        if content_type == PROTOBUF and raw:
            try:
                body = decode_protobuf(raw)
            except ValueError as exc:
                body_error = f"protobuf: {exc}"
                body = raw.decode("utf-8", "replace")
        elif raw.strip():
            try:
                body = yaml.safe_load(raw) if content_type == APPLY_PATCH else json.loads(raw)
            except (ValueError, yaml.YAMLError) as exc:
                body_error = str(exc)
                body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(method, path, query, pick_headers(headers, _RECORDED_HEADERS), body)
        with self._lock:
            failure = self._record(recorded)
            if failure is not None:
                recorded.status = failure.status
                return _Reply(failure.status, failure.body)
            try:
                reply = self._answer(method, path, query, headers, body, body_error, content_type, recorded)
            except KubeError as error:
                reply = _Reply(error.code, error.status())
            except Exception as exc:  # a bug in the fake must not pass as an API answer
                reply = _Reply(
                    500, KubeError(500, "InternalError", f"KubernetesFake internal error: {exc!r}").status()
                )
            recorded.status = reply.status
            return reply

    def _authenticate(self, headers: Mapping[str, str]) -> _Grant:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        grant = self._grants.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            raise KubeError(401, "Unauthorized", "Unauthorized")
        return grant

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: Any,
        body_error: str | None,
        content_type: str,
        recorded: RecordedRequest,
    ) -> _Reply:
        clean = "/" + path.strip("/")
        if clean in _ALWAYS_ALLOWED_PATHS:
            if method != "GET":
                raise method_not_allowed()
            return _Reply(200, dict(self._version) if clean == "/version" else "ok")
        grant = self._authenticate(headers)
        recorded.user = grant.user
        discovery = self._discovery(clean)
        if discovery is not None:
            if method != "GET":
                raise method_not_allowed()
            return _Reply(200, discovery)
        target = self._target(clean)
        if target is None:
            self._unsupported.append(f"{method} {path}" + ("?" + "&".join(query) if query else ""))
            raise path_not_found()
        verb = self._verb(method, target, query)
        if verb == "watch":
            self._unsupported.append(f"{method} {path} (watch)")
            raise method_not_allowed()
        self._authorize(grant, verb, target)
        if body_error is not None and method in ("POST", "PUT", "PATCH"):
            if content_type == PROTOBUF:
                raise KubeError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json, application/yaml ({body_error})",
                )
            raise bad_request(f"the body of the request was in an unknown format: {body_error}")
        dry_run = "All" in query.get("dryRun", [])
        rt, namespace, name, sub = target.rt, target.namespace, target.name, target.subresource
        if verb == "get":
            assert name is not None
            return _Reply(200, self._require(rt, namespace, name))
        if verb == "list":
            return _Reply(200, self._list_response(rt, namespace, query))
        if verb == "create":
            created = self._create(rt, namespace, body if isinstance(body, dict) else {}, dry_run=dry_run)
            return _Reply(201, created)
        if verb == "update":
            assert name is not None
            old = self._require(rt, namespace, name)
            return _Reply(
                200,
                self._write(
                    rt, namespace, name, old, body if isinstance(body, dict) else {}, sub, dry_run=dry_run
                ),
            )
        if verb == "patch":
            assert name is not None
            return self._patch(rt, namespace, name, sub, content_type, body, query, dry_run)
        if verb == "delete":
            assert name is not None
            obj = self._require(rt, namespace, name)
            if dry_run:
                return _Reply(200, obj)
            self._remove(rt, namespace, name)
            return _Reply(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": _details(rt, name, uid=_meta(obj)["uid"]),
                },
            )
        if verb == "deletecollection":
            selected = self._select(rt, namespace, self._requirements(query))
            if not dry_run:
                for obj in selected:
                    self._remove(rt, _meta(obj).get("namespace"), _meta(obj)["name"])
            return _Reply(200, self._list_body(rt, selected))
        raise method_not_allowed()

    def _verb(self, method: str, target: _Target, query: dict[str, list[str]]) -> str:
        if method == "GET":
            if target.name is None:
                return "watch" if query.get("watch", ["false"])[0] in ("1", "true") else "list"
            return "get"
        if method == "POST" and target.name is None and target.subresource is None:
            return "create"
        if method == "PUT" and target.name is not None:
            return "update"
        if method == "PATCH" and target.name is not None:
            return "patch"
        if method == "DELETE" and target.subresource is None:
            return "delete" if target.name is not None else "deletecollection"
        raise method_not_allowed()

    def _authorize(self, grant: _Grant, verb: str, target: _Target) -> None:
        rt = target.rt
        if grant.allows(rt, target.subresource, verb):
            return
        resource = rt.plural + (f"/{target.subresource}" if target.subresource else "")
        scope = f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
        reason = f'User "{grant.user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}'
        subject = f'{rt.qualified} "{target.name}"' if target.name else rt.qualified
        raise KubeError(
            403, "Forbidden", f"{subject} is forbidden: {reason}", _details(rt, target.name or "")
        )

    def _target(self, path: str) -> _Target | None:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        served = [rt for rt in self._types if rt.group == group and rt.version == version]
        if not served:
            return None
        namespace: str | None = None
        namespaced_plurals = {rt.plural for rt in served if rt.namespaced}
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in namespaced_plurals:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return None
        rt = next((rt for rt in served if rt.plural == rest[0]), None)
        if rt is None:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and not (sub == "status" and rt.status_subresource):
            return None
        if rt.namespaced and namespace is None and name is not None:
            return None
        return _Target(rt, namespace, name, sub)

    def _requirements(self, query: dict[str, list[str]]) -> list[tuple[str, str, frozenset[str]]]:
        try:
            return parse_label_selector(query.get("labelSelector", [""])[0])
        except ValueError as exc:
            raise bad_request(str(exc)) from None

    def _list_response(self, rt: ResourceType, namespace: str | None, query: dict[str, list[str]]) -> Obj:
        items = self._select(rt, namespace, self._requirements(query))
        for selector in filter(None, query.get("fieldSelector", [""])[0].split(",")):
            field_name, op, value = (
                re.split(r"(==|!=|=)", selector, maxsplit=1) if "=" in selector else (selector, "", "")
            )
            getters: dict[str, Callable[[Obj], Any]] = {
                "metadata.name": lambda o: _meta(o).get("name"),
                "metadata.namespace": lambda o: _meta(o).get("namespace", ""),
            }
            if rt.plural == "secrets":
                getters["type"] = lambda o: o.get("type")
            getter = getters.get(field_name.strip())
            if getter is None or not op:
                raise bad_request(f"field label not supported: {field_name.strip()}")
            items = [o for o in items if (getter(o) == value.strip()) == (op != "!=")]
        limit = int(query.get("limit", ["0"])[0] or 0)
        offset = 0
        token = query.get("continue", [""])[0]
        if token:
            try:
                offset = int(json.loads(base64.b64decode(token))["start"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: illegal base64 data at input byte 0") from None
        page = items[offset : offset + limit] if limit else items[offset:]
        body = self._list_body(rt, page)
        if limit and offset + limit < len(items):
            body["metadata"]["continue"] = base64.b64encode(
                json.dumps({"start": offset + limit}).encode()
            ).decode()
            body["metadata"]["remainingItemCount"] = len(items) - offset - limit
        return body

    def _list_body(self, rt: ResourceType, items: list[Obj]) -> Obj:
        # Items of built-in kinds carry no apiVersion/kind in a list, as the real server encodes them;
        # custom resources (unstructured) keep them.
        encoded = [
            copy.deepcopy(o) if not rt.builtin else _without(copy.deepcopy(o), "apiVersion", "kind")
            for o in items
        ]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": encoded,
        }

    def _patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str | None,
        content_type: str,
        body: Any,
        query: dict[str, list[str]],
        dry_run: bool,
    ) -> _Reply:
        if content_type not in rt.patch_types:
            raise KubeError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                + ", ".join(rt.patch_types),
            )
        key = self._key(rt, namespace, name)
        old = copy.deepcopy(self._objects.get(key))
        if content_type == APPLY_PATCH:
            manager = query.get("fieldManager", [""])[0]
            if not manager:
                raise bad_request("PATCH requests with apply content type require fieldManager")
            if not isinstance(body, dict):
                raise bad_request("error decoding YAML: the applied configuration is not an object")
            applied_name = _meta(body).get("name")
            if applied_name not in (None, name):
                raise bad_request(
                    f"the name of the object ({applied_name}) does not match the name on the URL ({name})"
                )
            for key_name in ("apiVersion", "kind"):
                if not body.get(key_name):
                    raise bad_request(f"{key_name} must be set in the applied configuration")
            apply_key = (*key, manager)
            if old is None:
                if subresource is not None:
                    raise not_found(rt, name)
                created = self._create(rt, namespace, copy.deepcopy(body), dry_run=dry_run)
                if not dry_run:
                    self._applied[apply_key] = copy.deepcopy(body)
                return _Reply(201, created)
            candidate = strategic_merge_patch(old, body) if rt.builtin else merge_patch(old, body)
            previous = self._applied.get(apply_key)
            if previous is not None:
                for dropped in _leaf_paths(previous) - _leaf_paths(body):
                    if (dropped and dropped[0] != "metadata") or dropped[:2] in _APPLY_METADATA:
                        _remove_path(candidate, dropped)
            _meta(candidate)["resourceVersion"] = _meta(body).get("resourceVersion")
            result = self._write(rt, namespace, name, old, candidate, subresource, dry_run=dry_run)
            if not dry_run:
                self._applied[apply_key] = copy.deepcopy(body)
            return _Reply(200, result)
        if old is None:
            raise not_found(rt, name)
        if content_type == JSON_PATCH:
            try:
                candidate = json_patch(old, body)
            except JSONPatchDecodeError as exc:
                raise bad_request(str(exc)) from None
            except JSONPatchError as exc:  # errors.NewGenericServerResponse(422, ...) in the patch handler
                raise KubeError(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": str(exc)}]},
                ) from None
            if not isinstance(candidate, dict):
                raise KubeError(422, "Invalid", "the patched object is not a JSON object", _details(rt, name))
            if _meta(candidate).get("resourceVersion") == _meta(old).get("resourceVersion"):
                _meta(candidate).pop("resourceVersion", None)  # a precondition only when the patch changes it
        else:
            if not isinstance(body, dict):
                raise bad_request(
                    "json: cannot unmarshal array into Go value of type map[string]interface {}"
                )
            patcher = strategic_merge_patch if content_type == STRATEGIC_MERGE_PATCH else merge_patch
            candidate = patcher(old, body)
            # The resourceVersion is a precondition only when the patch itself carries one.
            sent_rv = (
                (body.get("metadata") or {}).get("resourceVersion")
                if isinstance(body.get("metadata"), dict)
                else None
            )
            _meta(candidate)["resourceVersion"] = sent_rv
        return _Reply(200, self._write(rt, namespace, name, old, candidate, subresource, dry_run=dry_run))

    # ---- discovery -----------------------------------------------------------------------------

    def _group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for rt in self._types:
            versions = groups.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return groups

    def _resource_list(self, group: str, version: str) -> Obj:
        resources: list[Obj] = []
        for rt in self._types:
            if rt.group != group or rt.version != version:
                continue
            entry: Obj = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            entry["storageVersionHash"] = (
                base64.b64encode(f"{rt.group}/{rt.plural}".encode()).decode()[:11] + "="
            )
            resources.append(entry)
            if rt.status_subresource:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _api_group(self, group: str, versions: list[str]) -> Obj:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _discovery(self, path: str) -> Any:
        groups = self._group_versions()
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self.port}"}
                ],
            }
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._api_group(g, v) for g, v in groups.items() if g],
            }
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2 and parts[1] in groups.get("", []):
            return self._resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in groups and parts[1]:
            return {"kind": "APIGroup", "apiVersion": "v1", **self._api_group(parts[1], groups[parts[1]])}
        if parts[0] == "apis" and len(parts) == 3 and parts[2] in groups.get(parts[1], []) and parts[1]:
            return self._resource_list(parts[1], parts[2])
        if path == "/openapi/v3":
            paths = {}
            for group, versions in groups.items():
                for version in versions:
                    key = f"apis/{group}/{version}" if group else f"api/{version}"
                    paths[key] = {
                        "serverRelativeURL": f"/openapi/v3/{key}?hash={pod_template_hash({'k': key})}"
                    }
            return {"paths": paths}
        if parts[:2] == ["openapi", "v3"] and len(parts) >= 4:
            if parts[2] == "api" and len(parts) == 4 and parts[3] in groups.get("", []):
                return self._openapi_v3("", parts[3])
            if parts[2] == "apis" and len(parts) == 5 and parts[4] in groups.get(parts[3], []):
                return self._openapi_v3(parts[3], parts[4])
        return None

    def _openapi_v3(self, group: str, version: str) -> Obj:
        """A permissive OpenAPI v3 document of one group-version: every operation with its
        ``x-kubernetes-group-version-kind`` and (for writes) the ``fieldValidation`` parameter."""
        paths: Obj = {}
        schemas: Obj = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
        for rt in self._types:
            if rt.group != group or rt.version != version:
                continue
            gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
            schema_name = (
                f"{'io.k8s.api.' + (rt.group or 'core') if rt.builtin else rt.group}.{rt.version}.{rt.kind}"
            )
            schemas[schema_name] = {
                "type": "object",
                "x-kubernetes-group-version-kind": [gvk],
                "x-kubernetes-preserve-unknown-fields": True,
            }
            ref = {
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}
            }
            base = (
                f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
            )

            def op(action: str, writes: bool, gvk: Obj = gvk, ref: Obj = ref) -> Obj:
                operation: Obj = {
                    "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK", **ref}},
                }
                if writes:
                    operation["parameters"] = [field_validation]
                    operation["requestBody"] = ref
                return operation

            paths[base] = {
                "get": op("list", False),
                "post": op("post", True),
                "delete": op("deletecollection", False),
            }
            paths[base + "/{name}"] = {
                "get": op("get", False),
                "put": op("put", True),
                "patch": op("patch", True),
                "delete": op("delete", False),
            }
            if rt.status_subresource:
                paths[base + "/{name}/status"] = {
                    "get": op("get", False),
                    "put": op("put", True),
                    "patch": op("patch", True),
                }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": self._version["gitVersion"]},
            "paths": paths,
            "components": {"schemas": schemas},
        }


def _default_selector(templates: Sequence[Obj]) -> Obj:
    """``matchLabels`` = the labels all ``templates`` share (``app``, not ``version``)."""
    common = _labels(templates[0])
    for template in templates[1:]:
        common = {k: v for k, v in common.items() if _labels(template).get(k) == v}
    if not common:
        raise ValueError("the templates share no label; pass selector=")
    return {"matchLabels": common}


def _revision(obj: Obj, key: str | None = None) -> int:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = (
        annotations.get(key)
        if key
        else annotations.get(DEPLOYMENT_REVISION, annotations.get(ROLLOUT_REVISION))
    )
    try:
        return int(value or 0)
    except ValueError:
        return 0


def container_template(
    image: str, labels: Mapping[str, str], *, name: str = "app", annotations: Mapping[str, str] | None = None
) -> Obj:
    """A minimal pod template with one container, for tests."""
    metadata: Obj = {"labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"metadata": metadata, "spec": {"containers": [{"name": name, "image": image}]}}

"""Idempotent provisioning of Grafana: folder, data source, dashboards, alert rules, pager routing.

:func:`plan` reads what Grafana holds and compares it with what this repository defines; each
:class:`Change` says ``create``, ``update`` or ``unchanged``, with a unified diff of the JSON,
and carries the write that applies it. :func:`apply` runs the writes in order (the folder
first) and stops at the first error, so the caller can report exactly what was and was not
done. Nothing is written when nothing differs, which keeps Grafana's dashboard version history
meaningful: a second run in a row writes nothing. :func:`plan_against_empty` plans without any
Grafana, as if it held nothing, for a dry run where none can be reached: every object reads
``create`` and no change carries a write.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.grafana.client import Grafana, GrafanaError
from monitor.grafana.rules import SOURCE_LABEL, PromGroup, grafana_rule_group
from monitor.settings.grafana import ContactPointSpec, GrafanaSpec

OWNER_TAG = "deploy-monitor"  # dashboards carrying it are ours to overwrite
CONTACT_POINT_UID = "deploy-monitor-pager"
# The rules' data source when neither the config nor --datasource-uid names it and no Grafana can be
# asked which Prometheus is its default (an empty one has none): shown in the plan's rule bodies.
UNKNOWN_DATASOURCE_UID = "<set grafana.datasource or --datasource-uid>"


@dataclass
class Change:
    """One object's difference between Grafana and the repository, and the write that applies it."""

    kind: str
    name: str
    action: str  # create | update | unchanged
    diff: str = ""
    write: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def drift(self) -> bool:
        return self.action != "unchanged"

    def line(self) -> str:
        return f"{self.action:9} {self.kind} {self.name}"


def _canonical(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _diff(kind: str, name: str, current: object, desired: object) -> str:
    lines = difflib.unified_diff(
        _canonical(current).splitlines(keepends=True) if current is not None else [],
        _canonical(desired).splitlines(keepends=True),
        fromfile=f"grafana/{kind}/{name}",
        tofile=f"repository/{kind}/{name}",
    )
    return "".join(lines)


def _project(current: object, desired: object) -> object:
    """``current`` limited to the shape of ``desired``: fields Grafana adds (ids, versions,
    defaults, provenance) are not differences; a missing field, another value or another list
    length is."""
    if isinstance(current, dict) and isinstance(desired, dict):
        return {key: _project(current.get(key), value) for key, value in desired.items()}
    if isinstance(current, list) and isinstance(desired, list) and len(current) == len(desired):
        return [_project(c, d) for c, d in zip(current, desired, strict=True)]
    return current


def _change(kind: str, name: str, current: object, desired: object, write: Callable[[], None]) -> Change:
    if current is not None:
        current = _project(current, desired)
    if current is None:
        return Change(kind, name, "create", _diff(kind, name, None, desired), write)
    if _canonical(current) == _canonical(desired):
        return Change(kind, name, "unchanged")
    return Change(kind, name, "update", _diff(kind, name, current, desired), write)


@dataclass(frozen=True)
class Desired:
    """Everything the repository defines for one Grafana."""

    spec: GrafanaSpec
    dashboards: Mapping[str, dict[str, Any]]  # name -> dashboard model (with uid)
    rule_groups: Sequence[PromGroup]
    datasource_uid: str | None = None  # for the rules; defaults to the configured or default Prometheus
    version: str = ""  # written into dashboard version messages


def plan(grafana: Grafana, desired: Desired) -> list[Change]:
    """Compare Grafana with ``desired``; reads only."""
    api, spec = grafana.api, desired.spec
    grafana.check_is_grafana()
    changes = [_folder(grafana, spec)]
    folder_missing = changes[0].action == "create"
    if spec.datasource is not None:
        changes.append(_datasource(grafana, spec))
    for name, model in desired.dashboards.items():
        changes.append(_dashboard(grafana, spec, name, model, desired.version))
    datasource_uid = desired.datasource_uid or _rules_datasource(grafana, spec)
    for group in desired.rule_groups:
        body = grafana_rule_group(group, spec.folder_uid, datasource_uid, spec.org_id or 1)
        current = None
        if not folder_missing:
            current = grafana.call(
                f"GET rule group {group.name}", api.alertingprovisioning.get_rule_group,
                spec.folder_uid, group.name, absent_ok=True,
            )  # fmt: skip

        def put(body: dict[str, Any] = body, name: str = group.name) -> None:
            grafana.call(
                f"PUT rule group {name}",
                api.alertingprovisioning.update_rule_group,
                spec.folder_uid,
                name,
                body,
            )

        changes.append(_change("rule-group", group.name, current, body, put))
    if spec.contact_point is not None:
        changes.append(_contact_point(grafana, spec.contact_point))
        changes.append(_policy(grafana, spec.contact_point))
    return changes


def plan_against_empty(desired: Desired) -> list[Change]:
    """What :func:`plan` would say of a Grafana that holds nothing; sends no request.

    For ``monitor provision --dry-run`` when no Grafana is configured or none answers: every object
    reads ``create``, with its whole body as the diff. The changes carry no write (there is no
    Grafana to write to), so :func:`apply` does nothing with them.
    """
    spec = desired.spec
    datasource_uid = desired.datasource_uid or (spec.datasource.uid if spec.datasource else None)
    known = dataclasses.replace(desired, datasource_uid=datasource_uid or UNKNOWN_DATASOURCE_UID)
    return [dataclasses.replace(change, write=None) for change in plan(_EmptyGrafana(spec), known)]


def unreached(grafana: Grafana) -> GrafanaError | None:
    """The error when Grafana at ``grafana.url`` gives no answer at all (refused, timed out, no such
    host) after the usual retries; None when it answered anything, even an error or a page that is
    not Grafana's (:func:`plan` then reports that as it always does)."""
    try:
        grafana.call("GET /api/health", grafana.api.client.GET, "/health")
    except GrafanaError as exc:
        return exc if exc.status == 0 else None  # a status of 0: no answer came (Grafana.call)
    except ValueError:  # an answer that is not JSON: reached
        return None
    return None


class _Anything:
    """Any grafana-client API object or method, by any attribute path; never called."""

    def __getattr__(self, name: str) -> _Anything:
        return self


class _EmptyGrafana(Grafana):
    """A Grafana that holds nothing: every call answers absent and none is sent.

    Its calls never run the grafana-client method they are given, so planning against it needs no
    server; :func:`plan_against_empty` drops the writes of the changes it yields.
    """

    def __init__(self, spec: GrafanaSpec) -> None:  # no API session: nothing is ever sent
        self.url, self.api = spec.url, _Anything()

    def call(self, what: str, method: Callable[..., Any], *args: Any, absent_ok: bool = False) -> Any:
        return None

    def check_is_grafana(self) -> str:
        return "none"


def apply(changes: Sequence[Change], progress: Callable[[Change], None] = lambda _: None) -> list[Change]:
    """Run the writes in order; return the changes applied. Stops at the first :class:`GrafanaError`."""
    done: list[Change] = []
    for change in changes:
        if change.write is not None:
            change.write()
            done.append(change)
            progress(change)
    return done


def _folder(grafana: Grafana, spec: GrafanaSpec) -> Change:
    api = grafana.api
    current = grafana.call(
        f"GET folder {spec.folder_uid}", api.folder.get_folder, spec.folder_uid, absent_ok=True
    )
    desired = {"uid": spec.folder_uid, "title": spec.folder_title}
    if current is None:

        def create() -> None:
            try:
                grafana.call(
                    f"create folder {spec.folder_uid}",
                    api.folder.create_folder,
                    spec.folder_title,
                    spec.folder_uid,
                )
            except GrafanaError as exc:
                if exc.status not in (409, 412):
                    raise
                # Created meanwhile (another run) or the uid is taken: only ours if the title matches.
                found = grafana.call(f"GET folder {spec.folder_uid}", api.folder.get_folder, spec.folder_uid)
                if found.get("title") != spec.folder_title:
                    raise GrafanaError(
                        f"folder uid {spec.folder_uid!r} is taken by {found.get('title')!r}; set "
                        "grafana.folder_uid to another uid or rename that folder",
                        exc.status,
                    ) from None

        return _change("folder", spec.folder_uid, None, desired, create)
    now = {"uid": current.get("uid"), "title": current.get("title")}

    def rename() -> None:
        grafana.call(
            f"update folder {spec.folder_uid}", api.folder.update_folder, spec.folder_uid, spec.folder_title,
            current.get("version"),
        )  # fmt: skip

    return _change("folder", spec.folder_uid, now, desired, rename)


def _datasource(grafana: Grafana, spec: GrafanaSpec) -> Change:
    api, ds = grafana.api, spec.datasource
    assert ds is not None
    desired = {"name": ds.name, "uid": ds.uid, "type": "prometheus", "url": ds.url, "access": "proxy"}
    current = grafana.call(
        f"GET data source {ds.uid}", api.datasource.get_datasource_by_uid, ds.uid, absent_ok=True
    )
    if current is None:

        def create() -> None:
            body = {**desired, "isDefault": False, "jsonData": {"httpMethod": "POST"}}
            try:
                grafana.call(f"create data source {ds.name}", api.datasource.create_datasource, body)
            except GrafanaError as exc:
                if exc.status == 409:
                    raise GrafanaError(
                        f"a data source named {ds.name!r} already exists with another uid: set "
                        "grafana.datasource.uid to its uid, or give ours another name",
                        409,
                    ) from None
                raise

        return _change("datasource", ds.uid, None, desired, create)
    now = current

    def update() -> None:
        body = {**current, **desired}
        grafana.call(f"update data source {ds.uid}", api.datasource.update_datasource_by_uid, ds.uid, body)

    return _change("datasource", ds.uid, now, desired, update)


def _dashboard(grafana: Grafana, spec: GrafanaSpec, name: str, model: dict[str, Any], version: str) -> Change:
    api = grafana.api
    uid = str(model["uid"])
    found = grafana.call(f"GET dashboard {uid}", api.dashboard.get_dashboard, uid, absent_ok=True)
    desired = {"folderUid": spec.folder_uid, "dashboard": model}
    current = None
    stored: dict[str, Any] = {}
    if found is not None:
        stored = dict(found.get("dashboard") or {})
        if OWNER_TAG not in (stored.get("tags") or []):
            raise GrafanaError(
                f"dashboard uid {uid!r} exists in Grafana as {stored.get('title')!r} and was not "
                f"provisioned by the deploy monitor (no {OWNER_TAG!r} tag); delete or re-uid that "
                "dashboard, then rerun"
            )
        current = {"folderUid": (found.get("meta") or {}).get("folderUid"), "dashboard": stored}

    def save() -> None:
        body = {
            "dashboard": {**model, "id": stored.get("id"), "version": stored.get("version", 0)},
            "folderUid": spec.folder_uid,
            "overwrite": False,  # optimistic: a concurrent edit answers 412 instead of being lost
            "message": f"deploy-monitor provision {version}".strip(),
        }
        try:
            grafana.call(f"save dashboard {uid}", api.dashboard.update_dashboard, body)
        except GrafanaError as exc:
            if exc.status in (400, 404) and "folder" in exc.body.lower():
                raise GrafanaError(
                    f"save dashboard {uid}: the folder {spec.folder_uid!r} disappeared while provisioning; "
                    "rerun monitor provision to recreate it",
                    exc.status,
                ) from None
            raise

    return _change("dashboard", f"{uid} ({name})", current, desired, save)


def _rules_datasource(grafana: Grafana, spec: GrafanaSpec) -> str:
    if spec.datasource is not None:
        return spec.datasource.uid
    found = grafana.call("list data sources", grafana.api.datasource.list_datasources) or []
    prometheus = [ds for ds in found if ds.get("type") == "prometheus"]
    chosen = [ds for ds in prometheus if ds.get("isDefault")] or prometheus
    if len(chosen) != 1:
        raise GrafanaError(
            f"cannot tell which Prometheus data source the alert rules query ({len(prometheus)} found); set "
            "grafana.datasource in the config or pass --datasource-uid"
        )
    return str(chosen[0]["uid"])


def _contact_point(grafana: Grafana, cp: ContactPointSpec) -> Change:
    api = grafana.api
    ap = api.alertingprovisioning
    found = (
        grafana.call(f"GET contact point {cp.name}", api.alertingprovisioning.get_contactpoints, cp.name)
        or []
    )
    mine = [c for c in found if c.get("name") == cp.name]
    settings = dict(cp.settings)
    desired = {"uid": CONTACT_POINT_UID, "name": cp.name, "type": cp.type, "settings": settings}
    body = {**desired, "settings": {**settings, **dict(cp.secure_settings)}, "disableResolveMessage": False}
    if not mine:
        return _change(
            "contact-point", cp.name, None, desired,
            lambda: grafana.call(f"create contact point {cp.name}", ap.create_contactpoint, body),
        )  # fmt: skip
    current = mine[0]
    # Grafana never returns secrets (they read as redacted): the comparison covers the visible
    # settings only, so a rotated secret is written by changing a visible setting or recreating.
    uid = str(current.get("uid"))
    return _change(
        "contact-point", cp.name, current, {**desired, "uid": uid},
        lambda: grafana.call(
            f"update contact point {cp.name}", ap.update_contactpoint, uid, {**body, "uid": uid}
        ),
    )  # fmt: skip


def _policy(grafana: Grafana, cp: ContactPointSpec) -> Change:
    """Route the monitor's alerts to the pager: one child route, other teams' routes kept as they are."""
    api = grafana.api
    tree = (
        grafana.call("GET notification policies", api.alertingprovisioning.get_notification_policy_tree) or {}
    )
    matcher = [SOURCE_LABEL[0], "=", SOURCE_LABEL[1]]
    ours = {
        "receiver": cp.name,
        "object_matchers": [matcher],
        "group_by": ["alertname", "service", "environment"],
        "continue": False,
    }
    routes = list(tree.get("routes") or [])
    others = [r for r in routes if matcher not in (r.get("object_matchers") or [])]
    existing = [r for r in routes if matcher in (r.get("object_matchers") or [])]
    current_route = {k: existing[0].get(k) for k in ours} if existing else None
    desired_tree = {**tree, "routes": [ours, *others]}

    def put() -> None:
        grafana.call(
            "update notification policies",
            api.alertingprovisioning.set_notification_policy_tree,
            desired_tree,
        )

    return _change("notification-policy", f"route to {cp.name}", current_route, ours, put)

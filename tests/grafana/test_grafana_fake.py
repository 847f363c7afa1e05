"""Tests of the fake Grafana HTTP server itself (``tests/fakes/grafana.py``).

The fake stands in for Grafana 11.4, which the tests cannot run. It follows the Grafana contract of
``docs/integrations.md`` and validates every request body against the body schemas of Grafana's published
OpenAPI spec (``tests/fakes/grafana_bodies.schema.json``); these tests check that it
answers per the contract, rejects and records bodies the spec does not allow, and works from synchronous
(grafana-client) and async (aiohttp) callers.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from fakes.grafana import ADMIN_TOKEN, VIEWER_TOKEN, GrafanaFake, SpecViolation
from fakes.grafana_spec import load_spec
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

FOLDER = "deploy-health"
GROUP = "checkout"
RULES = f"/api/v1/provisioning/folder/{FOLDER}/rule-groups/{GROUP}"


def dashboard(
    uid: str | None = "deploy-health-checkout", title: str = "Checkout", **fields: Any
) -> dict[str, Any]:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "schemaVersion": 41,
        "version": 0,
        "tags": ["deploy-health"],
        "panels": [],
        **fields,
    }


def save(
    grafana: GrafanaFake, model: dict[str, Any], folder: str | None = FOLDER, **options: Any
) -> tuple[int, Any]:
    body: dict[str, Any] = {"dashboard": model, "overwrite": False, "message": "provisioned", **options}
    if folder is not None:
        body["folderUid"] = folder
    return grafana.api("POST", "/api/dashboards/db", body)


def make_folder(grafana: GrafanaFake, uid: str = FOLDER, title: str = "Deploy health") -> dict[str, Any]:
    status, body = grafana.api("POST", "/api/folders", {"uid": uid, "title": title})
    assert status == 200, body
    return body


def rule(title: str, uid: str | None = None, *, group: str = GROUP, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orgID": 1,
        "folderUID": FOLDER,
        "ruleGroup": group,
        "title": title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "datasourceUid": "prometheus",
                "queryType": "",
                "relativeTimeRange": {"from": 600, "to": 0},
                "model": {"refId": "A", "expr": 'sum(rate(http_requests_total{code=~"5.."}[5m]))'},
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "queryType": "",
                "relativeTimeRange": {"from": 0, "to": 0},
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [{"evaluator": {"type": "gt", "params": [0.05]}}],
                },
            },
        ],
        "noDataState": "NoData",
        "execErrState": "Error",
        "for": "5m",
        "labels": {"service": "checkout"},
        "annotations": {"summary": "Error rate above 5 %"},
        "isPaused": False,
    }
    if uid is not None:
        body["uid"] = uid
    body.update(fields)
    return body


def group_body(*rules: dict[str, Any], interval: int = 60) -> dict[str, Any]:
    return {"title": GROUP, "folderUid": FOLDER, "interval": interval, "rules": list(rules)}


def webhook(name: str = "deploy-health-webhook", uid: str | None = "deploy-health-webhook") -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "type": "webhook",
        "settings": {"url": "http://127.0.0.1:9/hook", "httpMethod": "POST", "password": "s3cret"},
        "disableResolveMessage": False,
    }
    if uid is not None:
        body["uid"] = uid
    return body


# ---- the spec index -------------------------------------------------------------------------------


def test_spec_is_indexed_once_with_all_paths() -> None:
    spec = load_spec()
    assert load_spec() is spec
    assert len(spec.paths) == 213
    assert spec.base_path == "/api"


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/folders/abc", "/folders/{folder_uid}"),
        ("GET", "/api/folders/id/7", "/folders/id/{folder_id}"),
        ("DELETE", "/api/datasources/uid/prom", "/datasources/uid/{uid}"),
        ("GET", "/api/datasources/name/My%20Prometheus", "/datasources/name/{name}"),
        ("GET", "/api/v1/provisioning/alert-rules/export", "/v1/provisioning/alert-rules/export"),
        (
            "PUT",
            "/api/v1/provisioning/folder/f/rule-groups/g",
            "/v1/provisioning/folder/{FolderUID}/rule-groups/{Group}",
        ),
    ],
)
def test_spec_maps_paths_to_templates(method: str, path: str, template: str) -> None:
    operation, matched, _ = load_spec().match(method, path)
    assert operation is not None and operation.template == matched == template


def test_spec_decodes_path_parameters() -> None:
    _, _, params = load_spec().match("GET", "/api/datasources/name/My%20Prometheus")
    assert params == {"name": "My Prometheus"}


# ---- basics: health, auth, content type -----------------------------------------------------------


def test_health_needs_no_token_and_answers_json(grafana: GrafanaFake) -> None:
    status, body = grafana.api("GET", "/api/health", token=None)
    assert status == 200
    assert body["database"] == "ok" and body["version"] == "11.4.0" and body["commit"]
    assert grafana.requests[-1].status == 200
    assert grafana.violations == []


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_unknown_token_is_401(grafana: GrafanaFake, token: str | None) -> None:
    assert grafana.api("GET", "/api/folders", token=token) == (401, {"message": "Invalid API key"})


def test_viewer_reads_but_cannot_write(grafana: GrafanaFake) -> None:
    assert grafana.api("GET", "/api/folders", token=VIEWER_TOKEN) == (200, [])
    status, body = grafana.api("POST", "/api/folders", {"title": "x"}, token=VIEWER_TOKEN)
    assert status == 403 and body["message"].startswith("Access denied")
    status, _ = grafana.api("GET", "/api/v1/provisioning/policies", token=VIEWER_TOKEN)
    assert status == 403  # the provisioning API is for admins
    assert grafana.folders == {}
    assert grafana.writes() == 0


def test_org_header_is_accepted_and_recorded(grafana: GrafanaFake) -> None:
    status, _ = grafana.api("GET", "/api/folders", headers={"X-Grafana-Org-Id": "1"})
    assert status == 200
    assert grafana.requests[-1].headers["X-Grafana-Org-Id"] == "1"
    assert grafana.requests[-1].headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"


def test_custom_tokens_and_roles(make_grafana: Callable[..., GrafanaFake]) -> None:
    fake = make_grafana(tokens={"glsa_editor": "Editor"})
    assert fake.api("GET", "/api/folders", token=ADMIN_TOKEN)[0] == 401
    assert fake.api("POST", "/api/folders", {"uid": "f", "title": "F"}, token="glsa_editor")[0] == 200
    assert (
        fake.api("POST", "/api/datasources", {"name": "p", "type": "prometheus"}, token="glsa_editor")[0]
        == 403
    )


async def test_every_json_answer_has_the_json_content_type(grafana: GrafanaFake) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    types = []
    async with aiohttp.ClientSession(grafana.url, headers=headers) as session:
        for path in ("/api/health", "/api/folders/missing", "/api/nope"):
            async with session.get(path) as response:
                types.append(response.content_type)
        async with session.get("/api/folders", headers={"Authorization": "Bearer bad"}) as response:
            types.append(response.content_type)
    assert types == ["application/json"] * 4


# ---- spec violations -------------------------------------------------------------------------------


def test_invalid_body_is_400_and_recorded(grafana: GrafanaFake) -> None:
    status, body = grafana.api("POST", "/api/annotations", {"tags": "deploy", "time": "yesterday"})
    assert status == 400
    assert body["message"].startswith("bad request data: ")
    [violation] = grafana.violations
    assert isinstance(violation, SpecViolation)
    assert (violation.method, violation.path) == ("POST", "/api/annotations")
    assert "PostAnnotationsCmd" in violation.reason
    assert "'text' is a required property" in violation.reason
    assert "$.tags" in violation.reason and "$.time" in violation.reason
    assert grafana.annotations == []


def test_body_that_is_not_json_is_a_violation(grafana: GrafanaFake) -> None:
    request = urllib.request.Request(
        grafana.url + "/api/folders",
        data=b"{not json",
        method="POST",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 400
    assert "body is not JSON" in grafana.violations[0].reason


def test_unknown_path_and_method_are_404_violations(grafana: GrafanaFake) -> None:
    assert grafana.api("GET", "/api/no-such-thing") == (404, {"message": "Not found"})
    assert grafana.api("PATCH", "/api/folders/abc", {"title": "x"})[0] == 404
    reasons = [v.reason for v in grafana.violations]
    assert reasons == [
        "no path of the spec matches",
        "the spec has no PATCH operation on /folders/{folder_uid}",
    ]


def test_spec_operation_the_fake_lacks_is_a_501_violation(grafana: GrafanaFake) -> None:
    status, _ = grafana.api("GET", "/api/search")
    assert status == 501
    assert grafana.violations[0].reason == "GET /search is not implemented by GrafanaFake"


def test_nulls_read_as_absent_like_gos_decoder(grafana: GrafanaFake) -> None:
    # grafana-client's add_annotation sends null for the fields it was not given.
    body = {"panelId": None, "time": None, "timeEnd": None, "tags": ["deploy"], "text": "v1.4.2"}
    status, answer = grafana.api("POST", "/api/annotations", body)
    assert status == 200 and answer["message"] == "Annotation added"
    assert grafana.violations == []


def test_date_time_formats_are_checked(grafana: GrafanaFake) -> None:
    status, _ = save(grafana, dashboard(), folder=None, UpdatedAt="last tuesday")
    assert status == 400
    assert "date-time" in grafana.violations[0].reason


# ---- dashboards (docs/integrations.md) -----------------------------------------------------------


def test_dashboard_create_and_get(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, body = save(grafana, dashboard())
    assert status == 200
    assert body == {
        "status": "success",
        "slug": "checkout",
        "version": 1,
        "id": body["id"],
        "uid": "deploy-health-checkout",
        "url": "/d/deploy-health-checkout/checkout",
        "folderUid": FOLDER,
    }
    status, got = grafana.api("GET", "/api/dashboards/uid/deploy-health-checkout")
    assert status == 200
    assert got["dashboard"]["version"] == 1 and got["dashboard"]["id"] == body["id"]
    assert got["dashboard"]["panels"] == [] and got["dashboard"]["schemaVersion"] == 41
    meta = got["meta"]
    assert meta["url"] == "/d/deploy-health-checkout/checkout" and meta["slug"] == "checkout"
    assert (meta["folderUid"], meta["folderTitle"], meta["provisioned"]) == (FOLDER, "Deploy health", False)
    assert meta["folderId"] == grafana.folders[FOLDER]["id"] and meta["version"] == 1
    assert grafana.dashboard_folder("deploy-health-checkout") == FOLDER
    assert grafana.violations == []


def test_dashboard_version_rules(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    assert save(grafana, dashboard())[1]["version"] == 1
    # The stored version with overwrite=false is an ordinary update.
    assert save(grafana, dashboard(version=1))[1]["version"] == 2
    # A stale version is refused ...
    status, body = save(grafana, dashboard(version=1))
    assert (status, body["status"]) == (412, "version-mismatch")
    assert body["message"] == "The dashboard has been changed by someone else"
    # ... and so is a missing one (Go reads it as 0) ...
    assert save(grafana, dashboard(version=None))[0] == 412
    # ... unless overwrite adopts the stored version.
    assert save(grafana, dashboard(version=1), overwrite=True)[1]["version"] == 3
    versions = grafana.dashboard_versions("deploy-health-checkout")
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert grafana.dashboards["deploy-health-checkout"]["version"] == 3
    assert grafana.violations == []


def test_same_title_in_folder_is_name_exists(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    save(grafana, dashboard())
    status, body = save(grafana, dashboard(uid="other"))
    assert status == 412
    assert body == {
        "status": "name-exists",
        "message": "A dashboard with the same name in the folder already exists",
    }
    # Another folder, or the General folder, is fine.
    assert save(grafana, dashboard(uid="other"), folder=None)[0] == 200


def test_grafana13_mode_answers_name_exists_for_an_existing_uid(
    make_grafana: Callable[..., GrafanaFake],
) -> None:
    fake = make_grafana(grafana13=True)
    make_folder(fake)
    model = dashboard()
    del model["version"]
    assert save(fake, model)[0] == 200
    status, body = save(fake, model)
    assert (status, body) == (
        412,
        {"status": "name-exists", "message": "A dashboard with the same uid already exists"},
    )
    # With overwrite an identical re-post keeps the version (13.2.2); a change bumps it.
    assert save(fake, model, overwrite=True)[1]["version"] == 1
    assert save(fake, {**model, "tags": ["changed"]}, overwrite=True)[1]["version"] == 2
    # A stale explicit version is still a version mismatch.
    assert save(fake, {**model, "version": 1})[1]["status"] == "version-mismatch"
    assert len(fake.dashboard_versions("deploy-health-checkout")) == 2


@pytest.mark.parametrize(
    ("uid", "message"),
    [("bad uid!", "uid contains illegal characters"), ("x" * 41, "uid too long, max 40 characters")],
)
def test_dashboard_uid_validation(grafana: GrafanaFake, uid: str, message: str) -> None:
    assert save(grafana, dashboard(uid=uid), folder=None) == (400, {"message": message})


def test_dashboard_without_title_or_with_unknown_folder(grafana: GrafanaFake) -> None:
    status, body = save(grafana, dashboard(title="  "), folder=None)
    assert (status, body["message"], body["status"]) == (400, "Dashboard title cannot be empty", "empty-name")
    assert save(grafana, dashboard(), folder="missing") == (400, {"message": "folder not found"})
    assert save(grafana, dashboard(), folder=None, message="m" * 501)[0] == 400
    assert grafana.dashboards == {}


def test_dashboard_without_uid_gets_one_and_moves_to_general(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, body = save(grafana, dashboard(uid=None))
    assert status == 200 and len(body["uid"]) == 14
    # An update that names no folder moves the dashboard to the General folder.
    status, body = save(grafana, dashboard(uid=body["uid"], version=1), folder=None)
    assert (status, body["folderUid"]) == (200, "")
    _, got = grafana.api("GET", f"/api/dashboards/uid/{body['uid']}")
    assert got["meta"]["folderTitle"] == "General"


def test_dashboard_get_and_delete_404_and_delete(grafana: GrafanaFake) -> None:
    missing = (404, {"message": "Dashboard not found", "status": "not-found"})
    assert grafana.api("GET", "/api/dashboards/uid/nope") == missing
    assert grafana.api("DELETE", "/api/dashboards/uid/nope") == missing
    save(grafana, dashboard(), folder=None)
    status, body = grafana.api("DELETE", "/api/dashboards/uid/deploy-health-checkout")
    assert (status, body["title"], body["message"]) == (200, "Checkout", "Dashboard Checkout deleted")
    assert grafana.dashboards == {} and grafana.dashboard_versions("deploy-health-checkout") == []


def test_dashboard_is_stored_as_posted(grafana: GrafanaFake) -> None:
    model = dashboard(panels=[{"id": 1, "type": "timeseries", "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}}])
    save(grafana, model, folder=None)
    stored = grafana.dashboards["deploy-health-checkout"]
    assert stored == {**model, "id": stored["id"], "version": 1}


# ---- folders (docs/integrations.md) --------------------------------------------------------------


def test_folder_crud(grafana: GrafanaFake) -> None:
    created = make_folder(grafana)
    assert created["url"] == "/dashboards/f/deploy-health/deploy-health" and created["version"] == 1
    assert grafana.api("GET", "/api/folders") == (
        200,
        [{"id": created["id"], "uid": FOLDER, "title": "Deploy health"}],
    )
    assert grafana.api("GET", f"/api/folders/{FOLDER}")[1]["title"] == "Deploy health"
    status, body = grafana.api("PUT", f"/api/folders/{FOLDER}", {"title": "Renamed", "version": 1})
    assert (status, body["title"], body["version"]) == (200, "Renamed", 2)
    assert grafana.api("GET", "/api/folders/missing") == (
        404,
        {"status": "not-found", "message": "folder not found"},
    )
    assert grafana.violations == []


def test_existing_folder_uid_is_412_by_default(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, body = grafana.api("POST", "/api/folders", {"uid": FOLDER, "title": "Again"})
    assert (status, body) == (
        412,
        {"status": "version-mismatch", "message": "the folder has been changed by someone else"},
    )


def test_existing_folder_uid_is_409_on_the_legacy_store(make_grafana: Callable[..., GrafanaFake]) -> None:
    fake = make_grafana(folder_conflict_status=409)
    make_folder(fake)
    assert fake.api("POST", "/api/folders", {"uid": FOLDER, "title": "Again"}) == (
        409,
        {"message": "a folder/dashboard with the same uid already exists"},
    )


def test_folder_update_version_mismatch_and_overwrite(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, body = grafana.api("PUT", f"/api/folders/{FOLDER}", {"title": "New", "version": 7})
    assert (status, body["status"]) == (412, "version-mismatch")
    assert (
        grafana.api("PUT", f"/api/folders/{FOLDER}", {"title": "New", "overwrite": True})[1]["version"] == 2
    )
    assert grafana.api("PUT", f"/api/folders/{FOLDER}", {"title": "", "overwrite": True})[0] == 400
    assert grafana.api("PUT", "/api/folders/missing", {"title": "x", "overwrite": True})[0] == 404


def test_folder_title_and_uid_validation(grafana: GrafanaFake) -> None:
    assert grafana.api("POST", "/api/folders", {"title": " "}) == (
        400,
        {"message": "folder title cannot be empty"},
    )
    assert grafana.api("POST", "/api/folders", {"uid": "a/b", "title": "x"})[1] == {
        "message": "uid contains illegal characters"
    }


def test_folder_delete_takes_dashboards_and_needs_force_for_rules(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    save(grafana, dashboard())
    assert grafana.api("PUT", RULES, group_body(rule("High error rate", "r1")))[0] == 200
    status, body = grafana.api("DELETE", f"/api/folders/{FOLDER}")
    assert (status, body["message"]) == (400, "Folder cannot be deleted: folder is not empty")
    status, body = grafana.api("DELETE", f"/api/folders/{FOLDER}?forceDeleteRules=true")
    assert (status, body["message"]) == (200, "Folder Deploy health deleted")
    assert grafana.folders == {} and grafana.dashboards == {} and grafana.rule_groups == {}


def test_nested_folders(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, child = grafana.api(
        "POST", "/api/folders", {"uid": "child", "title": "Child", "parentUid": FOLDER}
    )
    assert status == 200 and child["parentUid"] == FOLDER and child["parents"][0]["uid"] == FOLDER
    assert [f["uid"] for f in grafana.api("GET", f"/api/folders?parentUid={FOLDER}")[1]] == ["child"]
    assert grafana.api("POST", "/api/folders", {"title": "Orphan", "parentUid": "missing"})[0] == 404


# ---- data sources (docs/integrations.md) ---------------------------------------------------------


PROMETHEUS = {
    "name": "Prometheus",
    "type": "prometheus",
    "uid": "prometheus",
    "url": "http://prometheus:9090",
    "access": "proxy",
    "basicAuth": False,
    "isDefault": True,
    "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
    "secureJsonData": {"httpHeaderValue1": "token"},
}


def test_datasource_crud(grafana: GrafanaFake) -> None:
    status, body = grafana.api("POST", "/api/datasources", PROMETHEUS)
    assert (status, body["message"], body["name"]) == (200, "Datasource added", "Prometheus")
    assert body["datasource"]["secureJsonFields"] == {"httpHeaderValue1": True}
    assert "secureJsonData" not in body["datasource"]
    by_uid = grafana.api("GET", "/api/datasources/uid/prometheus")[1]
    assert by_uid == grafana.api("GET", "/api/datasources/name/Prometheus")[1]
    assert (by_uid["url"], by_uid["version"], by_uid["isDefault"]) == ("http://prometheus:9090", 1, True)
    status, body = grafana.api(
        "PUT", "/api/datasources/uid/prometheus", {**PROMETHEUS, "url": "http://prom:9090", "version": 1}
    )
    assert (status, body["message"], body["datasource"]["version"]) == (200, "Datasource updated", 2)
    assert [d["uid"] for d in grafana.api("GET", "/api/datasources")[1]] == ["prometheus"]
    assert grafana.datasources["prometheus"]["secureJsonData"] == {"httpHeaderValue1": "token"}
    assert grafana.api("DELETE", "/api/datasources/uid/prometheus") == (
        200,
        {"message": "Data source deleted", "id": by_uid["id"]},
    )
    assert grafana.api("GET", "/api/datasources/uid/prometheus") == (
        404,
        {"message": "Data source not found"},
    )
    assert grafana.violations == []


def test_datasource_duplicates_are_409(grafana: GrafanaFake) -> None:
    grafana.api("POST", "/api/datasources", PROMETHEUS)
    assert grafana.api("POST", "/api/datasources", {**PROMETHEUS, "uid": "other"}) == (
        409,
        {"message": "data source with the same name already exists"},
    )
    assert grafana.api("POST", "/api/datasources", {**PROMETHEUS, "name": "Other"}) == (
        409,
        {"message": "data source with the same uid already exists"},
    )
    stale = grafana.api("PUT", "/api/datasources/uid/prometheus", {**PROMETHEUS, "version": 1})
    assert stale[0] == 200
    assert grafana.api("PUT", "/api/datasources/uid/prometheus", {**PROMETHEUS, "version": 1})[0] == 409


# ---- annotations (docs/integrations.md) ----------------------------------------------------------


def test_annotations_post_and_query(grafana: GrafanaFake) -> None:
    save(grafana, dashboard(), folder=None)
    posts = [
        {"time": 1_000, "tags": ["deploy", "checkout", "v1"], "text": "deploy v1"},
        {"time": 2_000, "timeEnd": 3_000, "tags": ["deploy", "checkout", "v2"], "text": "deploy v2"},
        {"time": 5_000, "tags": ["deploy", "cart"], "text": "cart", "dashboardUID": "deploy-health-checkout"},
    ]
    ids = []
    for post in posts:
        status, body = grafana.api("POST", "/api/annotations", post)
        assert (status, body["message"]) == (200, "Annotation added")
        ids.append(body["id"])

    def texts(query: str) -> list[str]:
        status, found = grafana.api("GET", f"/api/annotations{query}")
        assert status == 200
        return [a["text"] for a in found]

    assert texts("") == ["cart", "deploy v2", "deploy v1"]  # newest first
    assert texts("?tags=deploy&tags=checkout") == ["deploy v2", "deploy v1"]  # repeated tags: AND
    assert texts("?tags=v1&tags=cart&matchAny=true") == ["cart", "deploy v1"]
    assert texts("?from=2500&to=6000") == ["cart", "deploy v2"]  # the region overlaps
    assert texts("?limit=1") == ["cart"]
    assert texts("?dashboardUID=deploy-health-checkout") == ["cart"]
    first = grafana.annotations[0]
    assert (first["id"], first["time"], first["timeEnd"]) == (ids[0], 1_000, 1_000)
    assert grafana.violations == []


# ---- alerting provisioning (docs/integrations.md) ------------------------------------------------


def test_rule_group_put_get_and_provenance(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    body = group_body(rule("High error rate", "deploy-health-errors"))
    status, echoed = grafana.api("PUT", RULES, body)
    assert status == 200 and echoed == body
    assert grafana.requests[-1].disable_provenance is False
    status, got = grafana.api("GET", RULES)
    assert status == 200 and (got["title"], got["folderUid"], got["interval"]) == (GROUP, FOLDER, 60)
    [stored] = got["rules"]
    assert stored["uid"] == "deploy-health-errors" and stored["provenance"] == "api" and stored["id"] > 0
    assert stored["data"][0]["relativeTimeRange"] == {"from": 600, "to": 0}

    grafana.api("PUT", RULES, body, headers={"X-Disable-Provenance": "true"})
    assert grafana.requests[-1].disable_provenance is True
    assert grafana.alert_rules["deploy-health-errors"]["provenance"] == ""
    # Presence matters, not the value.
    grafana.api("PUT", RULES, body, headers={"X-Disable-Provenance": ""})
    assert grafana.alert_rules["deploy-health-errors"]["provenance"] == ""
    assert grafana.violations == []


def test_rule_group_put_replaces_the_whole_group(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    grafana.api("PUT", RULES, group_body(rule("Errors", "r1"), rule("Latency", "r2")))
    first_id = grafana.alert_rules["r1"]["id"]
    status, _ = grafana.api("PUT", RULES, group_body(rule("Errors", "r1"), interval=120))
    assert status == 200
    assert set(grafana.alert_rules) == {"r1"}
    assert grafana.alert_rules["r1"]["id"] == first_id
    assert grafana.rule_groups[(FOLDER, GROUP)]["interval"] == 120
    # Without "rules" only the interval changes.
    grafana.api("PUT", RULES, {"interval": 30})
    assert set(grafana.alert_rules) == {"r1"} and grafana.rule_groups[(FOLDER, GROUP)]["interval"] == 30
    # An empty list deletes the group.
    grafana.api("PUT", RULES, group_body())
    assert grafana.rule_groups == {}
    assert grafana.api("GET", RULES) == (404, {"message": "rulegroup not found"})


def test_rule_group_put_checks_folder_and_consistency(grafana: GrafanaFake) -> None:
    assert grafana.api("PUT", RULES, group_body(rule("Errors"))) == (404, {"message": "folder not found"})
    make_folder(grafana)
    status, body = grafana.api("PUT", RULES, group_body(rule("Errors", folderUID="elsewhere")))
    assert status == 400 and "folderUID" in body["message"]
    assert grafana.api("PUT", RULES, group_body(rule("Errors", ruleGroup="other")))[0] == 400
    assert grafana.api("PUT", RULES, group_body(rule("Errors"), interval=15))[0] == 400
    assert grafana.api("PUT", RULES, group_body(rule("Errors", condition="Z")))[0] == 400
    bad_window = rule("Errors")
    bad_window["data"][0]["relativeTimeRange"] = {"from": 0, "to": 0}
    assert grafana.api("PUT", RULES, group_body(bad_window))[0] == 400
    assert grafana.rule_groups == {}
    assert grafana.violations == []


def test_rule_uid_and_title_clashes_are_400(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    grafana.api("PUT", RULES, group_body(rule("Errors", "r1")))
    other = f"/api/v1/provisioning/folder/{FOLDER}/rule-groups/other"
    status, body = grafana.api("PUT", other, group_body(rule("Latency", "r1", group="other")))
    assert status == 400 and "conflicting alert rule" in body["message"]
    assert grafana.api("PUT", other, group_body(rule("Errors", "r2", group="other")))[0] == 400
    assert grafana.api("PUT", RULES, group_body(rule("A", "x"), rule("B", "x")))[0] == 400
    assert grafana.api("POST", "/api/v1/provisioning/alert-rules", rule("Other", "r1"))[0] == 400


def test_rule_body_must_match_the_spec(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    incomplete = rule("Errors")
    del incomplete["orgID"], incomplete["for"]
    incomplete["data"][0]["relativeTimeRange"] = {"from": "10m", "to": 0}
    status, _ = grafana.api("PUT", RULES, group_body(incomplete))
    assert status == 400
    [violation] = grafana.violations
    assert "AlertRuleGroup" in violation.reason
    assert "'orgID' is a required property" in violation.reason
    assert "'for' is a required property" in violation.reason
    assert "$.rules[0].data[0].relativeTimeRange.from" in violation.reason


def test_single_alert_rule_endpoints(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    status, created = grafana.api("POST", "/api/v1/provisioning/alert-rules", rule("Errors"))
    assert status == 201 and created["provenance"] == "api" and created["uid"]
    uid = created["uid"]
    assert grafana.api("GET", f"/api/v1/provisioning/alert-rules/{uid}")[1]["title"] == "Errors"
    assert [r["uid"] for r in grafana.api("GET", "/api/v1/provisioning/alert-rules")[1]] == [uid]
    assert grafana.rule_groups[(FOLDER, GROUP)]["interval"] == 60
    status, updated = grafana.api(
        "PUT", f"/api/v1/provisioning/alert-rules/{uid}", {**rule("Errors"), "for": "10m"}
    )
    assert status == 200 and updated["for"] == "10m"
    assert grafana.api("DELETE", f"/api/v1/provisioning/alert-rules/{uid}") == (204, None)
    assert grafana.api("GET", f"/api/v1/provisioning/alert-rules/{uid}") == (404, None)
    assert grafana.api("PUT", f"/api/v1/provisioning/alert-rules/{uid}", rule("Errors"))[0] == 404


def test_contact_points(grafana: GrafanaFake) -> None:
    status, created = grafana.api("POST", "/api/v1/provisioning/contact-points", webhook())
    assert status == 202 and created["uid"] == "deploy-health-webhook" and created["provenance"] == "api"
    status, found = grafana.api("GET", "/api/v1/provisioning/contact-points?name=deploy-health-webhook")
    assert status == 200 and [c["uid"] for c in found] == ["deploy-health-webhook"]
    assert found[0]["settings"]["password"] == "[REDACTED]"  # secure settings read back redacted
    all_points = grafana.api("GET", "/api/v1/provisioning/contact-points")[1]
    assert {c["name"] for c in all_points} == {"deploy-health-webhook", "grafana-default-email"}

    changed = {**found[0], "settings": {**found[0]["settings"], "url": "http://127.0.0.1:9/other"}}
    assert grafana.api(
        "PUT",
        "/api/v1/provisioning/contact-points/deploy-health-webhook",
        changed,
        headers={"X-Disable-Provenance": "1"},
    ) == (202, {"message": "contactpoint updated"})
    stored = grafana.contact_points["deploy-health-webhook"]
    assert (
        stored["settings"]["password"] == "s3cret" and stored["settings"]["url"] == "http://127.0.0.1:9/other"
    )
    assert stored["provenance"] == ""
    assert grafana.api("PUT", "/api/v1/provisioning/contact-points/missing", webhook())[0] == 404
    assert grafana.api("DELETE", "/api/v1/provisioning/contact-points/deploy-health-webhook") == (
        202,
        {"message": "contactpoint deleted"},
    )
    assert "deploy-health-webhook" not in grafana.contact_points
    assert grafana.violations == []


def test_contact_point_validation(grafana: GrafanaFake) -> None:
    no_url = webhook()
    no_url["settings"] = {}
    assert grafana.api("POST", "/api/v1/provisioning/contact-points", no_url)[0] == 400
    assert grafana.violations == []  # valid per the spec, refused by Grafana's own validation
    assert (
        grafana.api("POST", "/api/v1/provisioning/contact-points", {**webhook(), "type": "carrier-pigeon"})[0]
        == 400
    )
    assert "EmbeddedContactPoint" in grafana.violations[0].reason


def test_policies(grafana: GrafanaFake) -> None:
    assert grafana.api("GET", "/api/v1/provisioning/policies") == (
        200,
        {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]},
    )
    grafana.api("POST", "/api/v1/provisioning/contact-points", webhook())
    tree = {
        "receiver": "grafana-default-email",
        "group_by": ["grafana_folder", "alertname"],
        "routes": [
            {
                "receiver": "deploy-health-webhook",
                "object_matchers": [["service", "=", "checkout"]],
                "matchers": ['severity="critical"'],
                "group_wait": "30s",
                "repeat_interval": "4h",
                "continue": False,
            }
        ],
    }
    assert grafana.api("PUT", "/api/v1/provisioning/policies", tree) == (202, {"message": "policies updated"})
    assert grafana.policy == tree and grafana.policy_provenance == "api"
    assert grafana.api("GET", "/api/v1/provisioning/policies")[1] == {**tree, "provenance": "api"}
    # A policy can only route to existing contact points, which cannot be deleted while in use.
    assert grafana.api("PUT", "/api/v1/provisioning/policies", {**tree, "receiver": "nobody"})[0] == 400
    assert grafana.api("DELETE", "/api/v1/provisioning/contact-points/deploy-health-webhook")[0] == 409
    assert grafana.api("DELETE", "/api/v1/provisioning/policies")[0] == 202
    assert grafana.policy == {
        "receiver": "grafana-default-email",
        "group_by": ["grafana_folder", "alertname"],
    }
    assert grafana.violations == []


# ---- scripted failures, request log, write count -----------------------------------------------------


def test_fail_next_scripts_errors(grafana: GrafanaFake) -> None:
    grafana.fail_next("POST", "/api/dashboards/db", 503, times=2)
    grafana.fail_next("*", "/api/folders", 502, body={"message": "bad gateway"}, headers={"Retry-After": "1"})
    assert save(grafana, dashboard(), folder=None) == (503, {"message": "Service Unavailable"})
    assert save(grafana, dashboard(), folder=None)[0] == 503
    assert save(grafana, dashboard(), folder=None)[0] == 200
    assert grafana.api("GET", "/api/folders", token=None) == (502, {"message": "bad gateway"})
    assert grafana.api("GET", "/api/folders") == (200, [])
    assert [r.status for r in grafana.requests_to("*")] == [503, 503, 200, 502, 200]
    assert grafana.writes() == 1


def test_requests_are_recorded(grafana: GrafanaFake) -> None:
    grafana.api("POST", "/api/folders", {"uid": FOLDER, "title": "Deploy health"})
    grafana.api("GET", "/api/annotations?tags=a&tags=b&limit=5")
    post, get = grafana.requests
    assert (post.method, post.path, post.template, post.status) == ("POST", "/api/folders", "/folders", 200)
    assert post.body == {"uid": FOLDER, "title": "Deploy health"}
    assert post.headers["Content-Type"] == "application/json"
    assert get.query == {"tags": ["a", "b"], "limit": ["5"]} and get.body is None
    grafana.clear_requests()
    assert grafana.requests == [] and grafana.writes() == 0 and FOLDER in grafana.folders


def test_writes_count_successful_mutations_only(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    save(grafana, dashboard())
    save(grafana, dashboard())  # 412: no write
    grafana.api("GET", f"/api/dashboards/uid/{'deploy-health-checkout'}")
    assert grafana.writes() == 2


def test_views_are_copies(grafana: GrafanaFake) -> None:
    make_folder(grafana)
    save(grafana, dashboard())
    grafana.dashboards["deploy-health-checkout"]["title"] = "changed"
    grafana.folders[FOLDER]["title"] = "changed"
    assert grafana.dashboards["deploy-health-checkout"]["title"] == "Checkout"
    assert grafana.folders[FOLDER]["title"] == "Deploy health"


# ---- real clients --------------------------------------------------------------------------------------


def test_grafana_client_round_trip(grafana: GrafanaFake) -> None:
    api = GrafanaApi.from_url(grafana.url, credential=ADMIN_TOKEN)
    assert api.health.check()["version"] == "11.4.0"
    api.folder.create_folder("Deploy health", uid=FOLDER)
    saved = api.dashboard.update_dashboard(
        {"dashboard": dashboard(), "folderUid": FOLDER, "overwrite": False}
    )
    assert saved["version"] == 1
    assert api.dashboard.get_dashboard("deploy-health-checkout")["meta"]["folderUid"] == FOLDER
    api.annotations.add_annotation(tags=["deploy"], text="v1.4.2", time_from=1_000)
    api.alertingprovisioning.update_rule_group(
        FOLDER, GROUP, group_body(rule("Errors", "r1")), disable_provenance=True
    )
    assert api.alertingprovisioning.get_rule_group(FOLDER, GROUP)["rules"][0]["provenance"] == ""
    with pytest.raises(GrafanaClientError) as error:
        api.folder.create_folder("Again", uid=FOLDER)
    assert error.value.status_code == 412
    assert grafana.violations == []


async def test_async_client_from_the_test_loop(grafana: GrafanaFake) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(grafana.url, headers=headers) as session:
        async with session.post("/api/folders", json={"uid": FOLDER, "title": "Deploy health"}) as response:
            assert response.status == 200
        async with session.get(f"/api/folders/{FOLDER}") as response:
            assert (await response.json())["uid"] == FOLDER
    assert grafana.violations == []


def test_stop_is_idempotent_and_state_stays_readable() -> None:
    fake = GrafanaFake().start()
    fake.api("POST", "/api/folders", {"uid": FOLDER, "title": "Deploy health"})
    fake.stop()
    fake.stop()
    assert FOLDER in fake.folders

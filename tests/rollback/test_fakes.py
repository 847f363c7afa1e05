"""Tests of the fake Kubernetes and Argo CD API servers (``tests/fakes/kubernetes.py`` and ``argocd.py``).

No Kubernetes API server or Argo CD can run on this machine, so the fakes are built from the documented
contracts (``docs/integrations.md``); these tests pin the contract behaviour the rollback code
relies on, through plain HTTP, through ``kubernetes_asyncio`` (the monitor's client) and through
``helm_python`` (Helm v4's Go SDK, which needs TLS to send a bearer token).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
from fakes.argocd import ADMIN_TOKEN as ARGOCD_ADMIN_TOKEN
from fakes.kubernetes import (
    ADMIN_TOKEN as KUBE_ADMIN_TOKEN,
)
from fakes.kubernetes import (
    APPLY_PATCH,
    DEPLOYMENT_REVISION,
    JSON_PATCH,
    MERGE_PATCH,
    POD_TEMPLATE_HASH,
    ROLLOUT_REVISION,
    STRATEGIC_MERGE_PATCH,
    KubernetesFake,
    container_template,
)

SHOP_USER = "system:serviceaccount:shop:monitor"
ROLLOUTS = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"
CONFIGMAPS = "/api/v1/namespaces/shop/configmaps"


def call(
    fake: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = KUBE_ADMIN_TOKEN,
    content_type: str = "application/json",
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One HTTP request; returns the status and the decoded JSON body (text when not JSON)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(fake.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


def checkout_templates() -> tuple[dict[str, Any], dict[str, Any]]:
    v1 = container_template("shop/checkout:1.0", {"app": "checkout", "app.kubernetes.io/version": "1.0"})
    v2 = container_template("shop/checkout:2.0", {"app": "checkout", "app.kubernetes.io/version": "2.0"})
    return v1, v2


def add_checkout(kubernetes: Any) -> dict[str, Any]:
    v1, v2 = checkout_templates()
    return kubernetes.add_deployment("shop", "checkout", v2, revision_templates=[v1], replicas=3)


def add_cart_rollout(kubernetes: Any) -> dict[str, Any]:
    stable = container_template("shop/cart:1.0", {"app": "cart", "version": "1.0"})
    canary = container_template("shop/cart:2.0", {"app": "cart", "version": "2.0"})
    return kubernetes.add_rollout("shop", "cart", canary, revision_templates=[stable], promoted=False)


def assert_status(body: Any, code: int, reason: str, message: str) -> None:
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"], body["message"]) == (code, reason, message)


# --------------------------------------------------------------------------------------------------
# Kubernetes: discovery, authentication, authorization
# --------------------------------------------------------------------------------------------------


def test_version_needs_no_token_and_discovery_needs_one(kubernetes: Any) -> None:
    status, version = call(kubernetes, "GET", "/version", token=None)
    assert status == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    status, body = call(kubernetes, "GET", "/api", token=None)
    assert status == 401
    assert_status(body, 401, "Unauthorized", "Unauthorized")
    status, body = call(kubernetes, "GET", "/api/v1", token="not-a-token")
    assert status == 401


def test_discovery_documents(kubernetes: Any) -> None:
    assert call(kubernetes, "GET", "/api")[1]["versions"] == ["v1"]
    groups = call(kubernetes, "GET", "/apis")[1]
    assert groups["kind"] == "APIGroupList"
    by_name = {g["name"]: g for g in groups["groups"]}
    assert by_name["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert by_name["argoproj.io"]["versions"] == [
        {"groupVersion": "argoproj.io/v1alpha1", "version": "v1alpha1"}
    ]
    core = {r["name"]: r for r in call(kubernetes, "GET", "/api/v1")[1]["resources"]}
    assert core["configmaps"]["kind"] == "ConfigMap" and core["configmaps"]["namespaced"] is True
    assert core["configmaps"]["shortNames"] == ["cm"]
    assert "secrets" in core and core["namespaces"]["namespaced"] is False
    apps = call(kubernetes, "GET", "/apis/apps/v1")[1]
    assert apps["kind"] == "APIResourceList" and apps["groupVersion"] == "apps/v1"
    names = {r["name"]: r for r in apps["resources"]}
    assert {"deployments", "deployments/status", "replicasets", "replicasets/status"} <= set(names)
    assert "patch" in names["deployments"]["verbs"]
    argo = {r["name"] for r in call(kubernetes, "GET", "/apis/argoproj.io/v1alpha1")[1]["resources"]}
    assert argo == {"rollouts", "rollouts/status"}
    assert call(kubernetes, "GET", "/apis/apps")[1]["name"] == "apps"
    assert "api/v1" in call(kubernetes, "GET", "/openapi/v3")[1]["paths"]


def test_rollout_discovery_without_status_subresource(make_kubernetes: Any) -> None:
    fake = make_kubernetes(rollout_status_subresource=False)
    argo = {r["name"] for r in call(fake, "GET", "/apis/argoproj.io/v1alpha1")[1]["resources"]}
    assert argo == {"rollouts"}


def test_unknown_paths_answer_404_status(kubernetes: Any) -> None:
    status, body = call(kubernetes, "GET", "/apis/batch/v1/namespaces/shop/jobs")
    assert status == 404
    assert_status(body, 404, "NotFound", "the server could not find the requested resource")
    assert kubernetes.unsupported == ["GET /apis/batch/v1/namespaces/shop/jobs"]


def test_rbac_forbidden_messages_name_user_verb_resource_group_and_namespace(make_kubernetes: Any) -> None:
    fake = make_kubernetes(
        tokens={"sa-token": {"apps/deployments": {"get"}, "argoproj.io/rollouts": {"get", "patch"}}},
        users={"sa-token": SHOP_USER},
    )
    add_checkout(fake)
    add_cart_rollout(fake)
    assert call(fake, "GET", f"{DEPLOYMENTS}/checkout", token="sa-token")[0] == 200

    status, body = call(
        fake,
        "PATCH",
        f"{ROLLOUTS}/cart/status",
        {"status": {"abort": True}},
        token="sa-token",
        content_type=MERGE_PATCH,
    )
    assert status == 403
    assert_status(
        body,
        403,
        "Forbidden",
        f'rollouts.argoproj.io "cart" is forbidden: User "{SHOP_USER}" cannot patch resource '
        '"rollouts/status" in API group "argoproj.io" in the namespace "shop"',
    )
    assert body["details"] == {"name": "cart", "group": "argoproj.io", "kind": "rollouts"}

    status, body = call(fake, "GET", "/apis/apps/v1/replicasets", token="sa-token")
    assert status == 403
    assert body["message"] == (
        f'replicasets.apps is forbidden: User "{SHOP_USER}" cannot list resource "replicasets" in API group '
        '"apps" at the cluster scope'
    )
    status, body = call(fake, "GET", f"{CONFIGMAPS}/x", token="sa-token")
    assert status == 403 and 'cannot get resource "configmaps" in API group ""' in body["message"]
    # A grant on the main resource does not cover the status subresource, and the reverse.
    assert fake.requests_to("PATCH", f"{ROLLOUTS}/cart")[0].user == SHOP_USER
    assert fake.rollout("shop", "cart")["status"].get("abort") is None


def test_rbac_rejects_unknown_verbs() -> None:
    with pytest.raises(ValueError, match="unknown verbs"):
        KubernetesFake(tokens={"t": {"apps/deployments": {"rollback"}}})


# --------------------------------------------------------------------------------------------------
# Kubernetes: Deployments and the controller
# --------------------------------------------------------------------------------------------------


def test_not_found_is_worded_like_the_api_server(kubernetes: Any) -> None:
    status, body = call(kubernetes, "GET", f"{DEPLOYMENTS}/checkout")
    assert status == 404
    assert_status(body, 404, "NotFound", 'deployments.apps "checkout" not found')
    assert body["details"] == {"name": "checkout", "group": "apps", "kind": "deployments"}
    status, body = call(kubernetes, "GET", f"{CONFIGMAPS}/settings")
    assert body["message"] == 'configmaps "settings" not found'
    assert body["details"] == {"name": "settings", "kind": "configmaps"}


def test_add_deployment_creates_revisioned_replicasets(kubernetes: Any) -> None:
    deployment = add_checkout(kubernetes)
    meta = deployment["metadata"]
    assert meta["annotations"][DEPLOYMENT_REVISION] == "2"
    assert meta["generation"] == 2 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "checkout"}}
    assert deployment["status"]["observedGeneration"] == 2
    assert deployment["status"]["availableReplicas"] == 3
    progressing = {c["type"]: c for c in deployment["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "NewReplicaSetAvailable"

    old, new = kubernetes.replicasets("shop", owner="checkout")
    for rs, revision, image, replicas in (
        (old, "1", "shop/checkout:1.0", 0),
        (new, "2", "shop/checkout:2.0", 3),
    ):
        rs_hash = rs["metadata"]["labels"][POD_TEMPLATE_HASH]
        assert rs["metadata"]["name"] == f"checkout-{rs_hash}"
        assert rs["metadata"]["annotations"][DEPLOYMENT_REVISION] == revision
        assert rs["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "checkout",
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "checkout", POD_TEMPLATE_HASH: rs_hash}
        assert rs["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH] == rs_hash
        assert rs["spec"]["template"]["spec"]["containers"][0]["image"] == image
        assert rs["spec"]["replicas"] == replicas


def test_list_replicasets_with_label_selectors(kubernetes: Any) -> None:
    add_checkout(kubernetes)
    kubernetes.add_deployment("shop", "cart", container_template("shop/cart:1", {"app": "cart"}))
    path = "/apis/apps/v1/namespaces/shop/replicasets"

    def names(selector: str) -> list[str]:
        status, body = call(kubernetes, "GET", f"{path}?labelSelector={urllib.request.quote(selector)}")
        assert status == 200 and body["kind"] == "ReplicaSetList", body
        assert all("kind" not in item for item in body["items"])  # built-in list items carry no kind
        return sorted(item["metadata"]["name"].split("-")[0] for item in body["items"])

    assert names("app=checkout") == ["checkout", "checkout"]
    assert names("app=checkout,app.kubernetes.io/version=2.0") == ["checkout"]
    assert names("app!=checkout") == ["cart"]
    assert names("app in (cart,checkout)") == ["cart", "checkout", "checkout"]
    assert names("app.kubernetes.io/version") == ["checkout", "checkout"]
    assert names("!app.kubernetes.io/version") == ["cart"]
    status, body = call(kubernetes, "GET", f"{path}?labelSelector={urllib.request.quote('app in cart')}")
    assert status == 400 and body["reason"] == "BadRequest"

    status, page = call(kubernetes, "GET", f"{path}?limit=2")
    assert len(page["items"]) == 2 and page["metadata"]["remainingItemCount"] == 1
    token = urllib.request.quote(page["metadata"]["continue"])
    status, rest = call(kubernetes, "GET", f"{path}?limit=2&continue={token}")
    assert len(rest["items"]) == 1 and "continue" not in rest["metadata"]


def test_patching_the_template_creates_the_next_revision(kubernetes: Any) -> None:
    add_checkout(kubernetes)
    before = kubernetes.deployment("shop", "checkout")
    v3 = container_template("shop/checkout:3.0", {"app": "checkout", "app.kubernetes.io/version": "3.0"})
    status, patched = call(
        kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", {"spec": {"template": v3}}, content_type=MERGE_PATCH
    )
    assert status == 200
    assert patched["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert int(patched["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    after = kubernetes.deployment("shop", "checkout")
    assert after["metadata"]["annotations"][DEPLOYMENT_REVISION] == "3"
    assert after["status"]["observedGeneration"] == after["metadata"]["generation"]
    revisions = [rs["metadata"]["annotations"][DEPLOYMENT_REVISION] for rs in kubernetes.replicasets("shop")]
    assert revisions == ["1", "2", "3"]
    # A metadata-only change does not bump the generation; a no-op patch keeps the resourceVersion.
    status, labelled = call(
        kubernetes,
        "PATCH",
        f"{DEPLOYMENTS}/checkout",
        {"metadata": {"labels": {"team": "payments"}}},
        content_type=MERGE_PATCH,
    )
    assert labelled["metadata"]["generation"] == after["metadata"]["generation"]
    status, again = call(
        kubernetes,
        "PATCH",
        f"{DEPLOYMENTS}/checkout",
        {"metadata": {"labels": {"team": "payments"}}},
        content_type=MERGE_PATCH,
    )
    assert again["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]


def test_rollout_undo_like_kubectl_reuses_the_old_replicaset(kubernetes: Any) -> None:
    """kubectl rollout undo: read the ReplicaSets, take the previous revision's template without
    pod-template-hash, and send a JSON patch replacing spec.template (kubectl's getDeploymentPatch)."""
    add_checkout(kubernetes)
    status, listing = call(
        kubernetes, "GET", "/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dcheckout"
    )
    previous = next(
        rs for rs in listing["items"] if rs["metadata"]["annotations"][DEPLOYMENT_REVISION] == "1"
    )
    template = previous["spec"]["template"]
    del template["metadata"]["labels"][POD_TEMPLATE_HASH]
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": {DEPLOYMENT_REVISION: "2"}},
    ]
    status, body = call(kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", patch, content_type=JSON_PATCH)
    assert status == 200, body
    deployment = kubernetes.deployment("shop", "checkout")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/checkout:1.0"
    assert deployment["metadata"]["annotations"][DEPLOYMENT_REVISION] == "3"
    replicasets = kubernetes.replicasets("shop", owner="checkout")
    assert len(replicasets) == 2  # reused, not recreated
    reused = replicasets[-1]
    assert reused["metadata"]["name"] == previous["metadata"]["name"]
    assert reused["metadata"]["annotations"][DEPLOYMENT_REVISION] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert reused["spec"]["replicas"] == 3 and replicasets[0]["spec"]["replicas"] == 0


def test_json_patch_errors(kubernetes: Any) -> None:
    add_checkout(kubernetes)
    status, body = call(
        kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", {"spec": {"paused": True}}, content_type=JSON_PATCH
    )
    assert status == 400 and body["reason"] == "BadRequest"
    assert "cannot unmarshal object" in body["message"]
    test_op = [{"op": "test", "path": "/spec/replicas", "value": 7}]
    status, body = call(kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", test_op, content_type=JSON_PATCH)
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert "test failed" in body["details"]["causes"][0]["message"]


def test_strategic_merge_patch_merges_containers_by_name(kubernetes: Any) -> None:
    template = container_template("shop/checkout:1.0", {"app": "checkout"})
    template["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    kubernetes.add_deployment("shop", "checkout", template)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "shop/checkout:1.1"}]}}}}
    status, body = call(
        kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", patch, content_type=STRATEGIC_MERGE_PATCH
    )
    assert status == 200
    containers = body["spec"]["template"]["spec"]["containers"]
    assert containers == [
        {"name": "app", "image": "shop/checkout:1.1"},
        {"name": "sidecar", "image": "envoy:1"},
    ]
    # The same body as a merge patch replaces the list.
    status, body = call(kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", patch, content_type=MERGE_PATCH)
    assert [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["app"]
    status, body = call(
        kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", patch, content_type="application/json"
    )
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_deployment_validation(kubernetes: Any) -> None:
    add_checkout(kubernetes)
    wrong = container_template("shop/checkout:9", {"app": "other"})
    status, body = call(
        kubernetes,
        "PATCH",
        f"{DEPLOYMENTS}/checkout",
        {"spec": {"template": wrong}},
        content_type=MERGE_PATCH,
    )
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        'Deployment.apps "checkout" is invalid: spec.template.metadata.labels: '
    )
    assert body["message"].endswith("`selector` does not match template `labels`")
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    assert kubernetes.deployment("shop", "checkout")["metadata"]["annotations"][DEPLOYMENT_REVISION] == "2"


def test_status_of_a_deployment_is_only_written_through_the_subresource(kubernetes: Any) -> None:
    add_checkout(kubernetes)
    status, body = call(
        kubernetes, "PATCH", f"{DEPLOYMENTS}/checkout", {"status": {"replicas": 99}}, content_type=MERGE_PATCH
    )
    assert status == 200 and body["status"]["replicas"] == 3
    status, body = call(
        kubernetes,
        "PATCH",
        f"{DEPLOYMENTS}/checkout/status",
        {"status": {"replicas": 99}, "spec": {"replicas": 1}},
        content_type=MERGE_PATCH,
    )
    assert status == 200 and body["status"]["replicas"] == 99 and body["spec"]["replicas"] == 3


# --------------------------------------------------------------------------------------------------
# Kubernetes: Argo Rollouts
# --------------------------------------------------------------------------------------------------


def test_abort_through_the_status_subresource(kubernetes: Any) -> None:
    rollout = add_cart_rollout(kubernetes)
    assert rollout["status"]["phase"] == "Progressing"
    assert rollout["status"]["stableRS"] != rollout["status"]["currentPodHash"]
    assert rollout["metadata"]["annotations"][ROLLOUT_REVISION] == "2"
    generation = rollout["metadata"]["generation"]

    status, body = call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 200 and body["status"]["abort"] is True
    aborted = kubernetes.rollout("shop", "cart")
    assert aborted["status"]["abort"] is True
    assert aborted["status"]["abortedAt"].endswith("Z")
    assert aborted["status"]["phase"] == "Degraded"
    assert aborted["status"]["message"] == "RolloutAborted: Rollout aborted update to revision 2"
    progressing = {c["type"]: c for c in aborted["status"]["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "RolloutAborted")
    assert aborted["metadata"]["generation"] == generation  # status writes never bump the generation
    canary = next(rs for rs in kubernetes.replicasets("shop", owner="cart") if rs["spec"]["replicas"] == 0)
    assert canary["metadata"]["annotations"][ROLLOUT_REVISION] == "2"

    # Retry: abort false.
    call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": False}}, content_type=MERGE_PATCH
    )
    retried = kubernetes.rollout("shop", "cart")
    assert retried["status"]["phase"] == "Progressing" and "abortedAt" not in retried["status"]


def test_main_resource_patch_does_not_change_status_with_the_subresource(kubernetes: Any) -> None:
    add_cart_rollout(kubernetes)
    status, body = call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 200
    assert "abort" not in body["status"]
    assert kubernetes.rollout("shop", "cart")["status"]["phase"] == "Progressing"


def test_status_404_then_main_resource_fallback_without_the_subresource(make_kubernetes: Any) -> None:
    """kubectl argo rollouts abort: merge-patch /status, and on 404 the main resource (contracts §5.1)."""
    fake = make_kubernetes(rollout_status_subresource=False)
    add_cart_rollout(fake)
    generation = fake.rollout("shop", "cart")["metadata"]["generation"]
    status, body = call(
        fake, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 404
    assert_status(body, 404, "NotFound", "the server could not find the requested resource")
    status, body = call(
        fake, "PATCH", f"{ROLLOUTS}/cart", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 200 and body["status"]["abort"] is True
    rollout = fake.rollout("shop", "cart")
    assert rollout["status"]["phase"] == "Degraded"
    assert rollout["metadata"]["generation"] == generation + 1  # without the subresource status counts


def test_custom_resources_refuse_strategic_merge_patch(kubernetes: Any) -> None:
    add_cart_rollout(kubernetes)
    status, body = call(
        kubernetes,
        "PATCH",
        f"{ROLLOUTS}/cart",
        {"spec": {"paused": True}},
        content_type=STRATEGIC_MERGE_PATCH,
    )
    assert status == 415
    assert_status(
        body,
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )


def test_rollout_undo_to_the_stable_template_is_healthy(kubernetes: Any) -> None:
    add_cart_rollout(kubernetes)
    call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    stable = next(rs for rs in kubernetes.replicasets("shop", owner="cart") if rs["spec"]["replicas"])
    template = stable["spec"]["template"]
    template["metadata"]["labels"].pop("rollouts-pod-template-hash")
    status, _ = call(
        kubernetes,
        "PATCH",
        f"{ROLLOUTS}/cart",
        [{"op": "replace", "path": "/spec/template", "value": template}],
        content_type=JSON_PATCH,
    )
    assert status == 200
    rollout = kubernetes.rollout("shop", "cart")
    assert rollout["status"]["phase"] == "Healthy" and "abort" not in rollout["status"]
    assert rollout["status"]["currentPodHash"] == rollout["status"]["stableRS"]
    assert rollout["metadata"]["annotations"][ROLLOUT_REVISION] == "3"


def test_kubernetes_asyncio_client_against_the_fake(make_kubernetes: Any) -> None:
    """The monitor's client: typed reads, label-selected lists and a merge-patch of the Rollout status.
    Note that CustomObjectsApi sends application/json-patch+json for a dict body unless told otherwise."""
    import asyncio

    from kubernetes_asyncio import client

    fake = make_kubernetes(tokens={"sa": {"apps/*": {"get", "list"}}}, users={"sa": SHOP_USER})
    add_checkout(fake)
    add_cart_rollout(fake)

    async def scenario() -> None:
        admin = client.Configuration(
            host=fake.url, api_key={"BearerToken": KUBE_ADMIN_TOKEN}, api_key_prefix={"BearerToken": "Bearer"}
        )
        async with client.ApiClient(admin) as api:
            apps = client.AppsV1Api(api)
            deployment = await apps.read_namespaced_deployment("checkout", "shop")
            assert deployment.metadata.annotations[DEPLOYMENT_REVISION] == "2"
            replicasets = await apps.list_namespaced_replica_set("shop", label_selector="app=checkout")
            assert len(replicasets.items) == 2
            custom = client.CustomObjectsApi(api)
            with pytest.raises(client.ApiException) as caught:
                await custom.patch_namespaced_custom_object_status(
                    "argoproj.io", "v1alpha1", "shop", "rollouts", "cart", {"status": {"abort": True}}
                )
            assert caught.value.status == 400
            rollout = await custom.patch_namespaced_custom_object_status(
                "argoproj.io",
                "v1alpha1",
                "shop",
                "rollouts",
                "cart",
                {"status": {"abort": True}},
                _content_type=MERGE_PATCH,
            )
            assert rollout["status"]["abort"] is True  # the answer is the object as written ...
            again = await custom.get_namespaced_custom_object(
                "argoproj.io", "v1alpha1", "shop", "rollouts", "cart"
            )
            assert again["status"]["phase"] == "Degraded"  # ... and the controller's reaction follows
        limited = client.Configuration(
            host=fake.url, api_key={"BearerToken": "sa"}, api_key_prefix={"BearerToken": "Bearer"}
        )
        async with client.ApiClient(limited) as api:
            await client.AppsV1Api(api).read_namespaced_deployment("checkout", "shop")
            with pytest.raises(client.ApiException) as caught:
                await client.AppsV1Api(api).patch_namespaced_deployment("checkout", "shop", {"spec": {}})
            assert caught.value.status == 403
            assert json.loads(caught.value.body)["reason"] == "Forbidden"

    asyncio.run(scenario())


# --------------------------------------------------------------------------------------------------
# Kubernetes: ConfigMaps, Secrets, writes
# --------------------------------------------------------------------------------------------------


def test_configmap_crud_conflicts_and_validation(kubernetes: Any) -> None:
    kubernetes.add_namespace("shop")
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"a": "1"},
    }
    status, created = call(kubernetes, "POST", CONFIGMAPS, configmap)
    assert status == 201 and created["metadata"]["namespace"] == "shop" and created["metadata"]["uid"]
    status, body = call(kubernetes, "POST", CONFIGMAPS, configmap)
    assert status == 409
    assert_status(body, 409, "AlreadyExists", 'configmaps "settings" already exists')

    stale = dict(created, data={"a": "2"})
    status, updated = call(kubernetes, "PUT", f"{CONFIGMAPS}/settings", stale)
    assert status == 200 and updated["data"] == {"a": "2"}
    status, body = call(kubernetes, "PUT", f"{CONFIGMAPS}/settings", stale)  # old resourceVersion
    assert status == 409
    assert_status(
        body,
        409,
        "Conflict",
        'Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply '
        "your changes to the latest version and try again",
    )

    status, body = call(
        kubernetes,
        "POST",
        CONFIGMAPS,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
    )
    assert status == 422 and body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value'
    )
    status, body = call(kubernetes, "POST", "/api/v1/namespaces/nowhere/configmaps", configmap)
    assert status == 404 and body["message"] == 'namespaces "nowhere" not found'

    status, body = call(
        kubernetes, "POST", f"{CONFIGMAPS}?dryRun=All", dict(configmap, metadata={"name": "dry"})
    )
    assert status == 201 and kubernetes.get("configmaps", "shop", "dry") is None

    status, body = call(kubernetes, "DELETE", f"{CONFIGMAPS}/settings")
    assert status == 200 and body["status"] == "Success" and body["details"]["name"] == "settings"
    assert call(kubernetes, "GET", f"{CONFIGMAPS}/settings")[0] == 404


def test_secret_string_data_and_helm_release_storage(kubernetes: Any) -> None:
    kubernetes.add_namespace("shop")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "abc"}}
    status, created = call(kubernetes, "POST", "/api/v1/namespaces/shop/secrets", secret)
    assert status == 201 and created["type"] == "Opaque" and "stringData" not in created
    assert base64.b64decode(created["data"]["token"]) == b"abc"

    kubernetes.add_helm_release("shop", "checkout", 1, status="superseded", values={"image": {"tag": "1.0"}})
    kubernetes.add_helm_release("shop", "checkout", 2, values={"image": {"tag": "2.0"}})
    status, listing = call(
        kubernetes, "GET", "/api/v1/namespaces/shop/secrets?labelSelector=owner%3Dhelm%2Cname%3Dcheckout"
    )
    assert [item["metadata"]["name"] for item in listing["items"]] == [
        "sh.helm.release.v1.checkout.v1",
        "sh.helm.release.v1.checkout.v2",
    ]
    assert listing["items"][1]["type"] == "helm.sh/release.v1"
    assert listing["items"][1]["metadata"]["labels"] == {
        "owner": "helm",
        "name": "checkout",
        "status": "deployed",
        "version": "2",
    }
    releases = kubernetes.helm_releases("shop", "checkout")
    assert [(r["version"], r["info"]["status"], r["config"]["image"]["tag"]) for r in releases] == [
        (1, "superseded", "1.0"),
        (2, "deployed", "2.0"),
    ]


def test_server_side_apply(kubernetes: Any) -> None:
    kubernetes.add_namespace("shop")
    applied = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "1", "b": "2"},
    }
    path = f"{CONFIGMAPS}/cfg?fieldManager=deployer"
    status, body = call(kubernetes, "PATCH", path, applied, content_type=APPLY_PATCH)
    assert status == 201 and body["data"] == {"a": "1", "b": "2"}
    kubernetes.update(
        dict(kubernetes.get("configmaps", "shop", "cfg"), data={"a": "1", "b": "2", "c": "mine"})
    )
    status, body = call(kubernetes, "PATCH", path, dict(applied, data={"a": "9"}), content_type=APPLY_PATCH)
    assert status == 200
    assert body["data"] == {
        "a": "9",
        "c": "mine",
    }  # b was the manager's and is gone; c belongs to someone else
    status, body = call(kubernetes, "PATCH", f"{CONFIGMAPS}/cfg", applied, content_type=APPLY_PATCH)
    assert status == 400 and "fieldManager" in body["message"]


def test_fail_next_scripts_answers(kubernetes: Any) -> None:
    add_cart_rollout(kubernetes)
    kubernetes.fail_next("PATCH", f"{ROLLOUTS}/cart/status", 503)
    status, body = call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    status, _ = call(
        kubernetes, "PATCH", f"{ROLLOUTS}/cart/status", {"status": {"abort": True}}, content_type=MERGE_PATCH
    )
    assert status == 200
    assert [r.status for r in kubernetes.requests_to("PATCH", ROLLOUTS)] == [503, 200]


# --------------------------------------------------------------------------------------------------
# Helm through helm-python-sdk (Helm v4's Go SDK) against the fake over TLS
# --------------------------------------------------------------------------------------------------


def _write_chart(directory: Path) -> Path:
    chart = directory / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text('apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: "1.0.0"\n')
    (chart / "values.yaml").write_text("color: blue\n")
    (chart / "templates" / "settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  color: {{ .Values.color | quote }}\n"
    )
    return chart


def test_helm_install_upgrade_rollback_through_helm_python(make_kubernetes: Any, tmp_path: Path) -> None:
    fake = make_kubernetes(tls=True)
    fake.add_namespace("apps")
    chart = _write_chart(tmp_path)
    with helm.Config(
        kube_apiserver=fake.url, kube_token=KUBE_ADMIN_TOKEN, kube_ca_file=str(fake.ca_file), namespace="apps"
    ) as cfg:
        installed = cfg.install(str(chart), "demo", {"color": "red"}, timeout=30)
        assert (installed["revision"], installed["status"]) == (1, "deployed")
        assert fake.get("configmaps", "apps", "demo-settings")["data"] == {"color": "red"}

        upgraded = cfg.upgrade(str(chart), "demo", {"color": "green"}, timeout=30)
        assert (upgraded["revision"], upgraded["status"]) == (2, "deployed")
        assert fake.get("configmaps", "apps", "demo-settings")["data"] == {"color": "green"}

        assert cfg.rollback("demo", version=1, timeout=30) is None
        assert fake.get("configmaps", "apps", "demo-settings")["data"] == {"color": "red"}
        history = cfg.history("demo")
        assert [(h["revision"], h["status"]) for h in history] == [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
        ]
        assert {
            "name",
            "namespace",
            "revision",
            "status",
            "deployed_at",
            "chart_name",
            "chart_version",
        } <= set(history[0])

        with pytest.raises(helm.HelmNotFoundError, match="release: not found"):
            cfg.history("missing")
        with pytest.raises(helm.HelmReleaseError, match="release has no 42 version"):
            cfg.rollback("demo", version=42)

    stored = fake.helm_releases("apps", "demo")
    assert [(r["version"], r["info"]["status"]) for r in stored] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    assert stored[2]["info"]["description"] == "Rollback to 1"
    secrets = fake.requests_to("POST", "/api/v1/namespaces/apps/secrets")
    assert {r.content_type for r in secrets} == {"application/vnd.kubernetes.protobuf"}
    applies = fake.requests_to("PATCH", "/api/v1/namespaces/apps/configmaps/demo-settings")
    assert {r.content_type for r in applies} == {APPLY_PATCH}
    assert fake.unsupported == []


def test_helm_history_and_rollback_of_seeded_releases_and_rbac(make_kubernetes: Any) -> None:
    fake = make_kubernetes(
        tls=True, tokens={"reader": {"core/secrets": {"get", "list"}}}, users={"reader": SHOP_USER}
    )
    fake.add_helm_release("apps", "shop", 1, status="superseded", values={"tag": "1"})
    fake.add_helm_release("apps", "shop", 2, values={"tag": "2"})
    options = {"kube_apiserver": fake.url, "kube_ca_file": str(fake.ca_file), "namespace": "apps"}
    with helm.Config(kube_token="reader", **options) as cfg:
        assert [(h["revision"], h["status"]) for h in cfg.history("shop")] == [
            (1, "superseded"),
            (2, "deployed"),
        ]
        with pytest.raises(helm.HelmReleaseError, match="secrets is forbidden: User"):
            cfg.rollback("shop")
    with helm.Config(kube_token=KUBE_ADMIN_TOKEN, **options) as cfg:
        cfg.rollback("shop")
        assert [(h["revision"], h["status"]) for h in cfg.history("shop")][-1] == (3, "deployed")
        assert cfg.get_values("shop") == {"tag": "1"}


def test_plain_http_is_refused_a_token_by_client_go(make_kubernetes: Any) -> None:
    """client-go (clientcmd) only sends credentials over TLS: against an http:// server Helm is anonymous."""
    fake = make_kubernetes()
    with (
        helm.Config(kube_apiserver=fake.url, kube_token=KUBE_ADMIN_TOKEN, namespace="apps") as cfg,
        pytest.raises(helm.HelmError),
    ):
        cfg.history("shop")
    assert all("Authorization" not in r.headers for r in fake.requests)


# --------------------------------------------------------------------------------------------------
# Argo CD
# --------------------------------------------------------------------------------------------------

GOOD, BAD = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"


def argo(
    fake: Any, method: str, path: str, body: Any = None, token: str | None = ARGOCD_ADMIN_TOKEN
) -> tuple[int, Any]:
    return call(fake, method, path, body, token=token)


def test_argocd_authentication(argocd: Any) -> None:
    argocd.add_app("checkout")
    assert argo(argocd, "GET", "/api/version", token=None)[1]["Version"].startswith("v3.")
    status, body = argo(argocd, "GET", "/api/v1/applications/checkout", token=None)
    assert (status, body) == (
        401,
        {"error": "no session information", "code": 16, "message": "no session information"},
    )
    status, body = argo(argocd, "GET", "/api/v1/applications/checkout", token="forged")
    assert status == 401 and body["code"] == 16 and body["message"].startswith("invalid session")


def test_argocd_get_application(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD])
    status, app = argo(argocd, "GET", "/api/v1/applications/checkout")
    assert status == 200
    assert app["metadata"]["name"] == "checkout" and app["spec"]["project"] == "default"
    assert "syncPolicy" not in app["spec"]
    assert app["status"]["sync"]["revision"] == BAD
    assert [(h["id"], h["revision"]) for h in app["status"]["history"]] == [(0, GOOD), (1, BAD)]
    assert set(app["status"]["history"][0]) >= {"id", "revision", "deployedAt", "source"}
    status, listing = argo(argocd, "GET", "/api/v1/applications?name=checkout")
    assert [a["metadata"]["name"] for a in listing["items"]] == ["checkout"]


def test_argocd_rollback_refused_with_auto_sync(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD], auto_sync=True)
    status, body = argo(
        argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 0, "dryRun": False, "prune": False}
    )
    message = "rollback cannot be initiated when auto-sync is enabled"
    assert (status, body) == (400, {"error": message, "code": 9, "message": message})
    assert argocd.rollbacks == []
    argocd.set_auto_sync("checkout", False)
    assert argo(argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 0})[0] == 200


def test_argocd_rollback_errors(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD])
    status, body = argo(argocd, "POST", "/api/v1/applications/nope/rollback", {"id": 0})
    assert status == 404 and body["code"] == 5
    assert body["message"] == 'applications.argoproj.io "nope" not found'
    status, body = argo(argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 7})
    assert status == 400 and body["code"] == 3
    assert body["message"] == "application checkout does not have deployment with id 7"


def test_argocd_rollback_succeeds(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD])
    status, answer = argo(
        argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": "0", "prune": True}
    )
    assert status == 200
    assert answer["operation"]["sync"]["revision"] == GOOD and answer["operation"]["sync"]["prune"] is True
    app = argocd.app("checkout")
    assert app["status"]["sync"]["revision"] == GOOD
    assert [(h["id"], h["revision"]) for h in app["status"]["history"]] == [(0, GOOD), (1, BAD), (2, GOOD)]
    assert app["status"]["operationState"]["phase"] == "Succeeded" and "operation" not in app
    (rollback,) = argocd.rollbacks
    assert (rollback.app, rollback.id, rollback.revision, rollback.dry_run, rollback.prune) == (
        "checkout",
        0,
        GOOD,
        False,
        True,
    )
    assert rollback.user == "admin"


def test_argocd_dry_run_changes_nothing(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD])
    status, answer = argo(argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 0, "dryRun": True})
    assert status == 200 and answer["operation"]["sync"]["dryRun"] is True
    assert argocd.app("checkout")["status"]["sync"]["revision"] == BAD
    assert argocd.rollbacks[0].dry_run is True


def test_argocd_operation_in_progress(make_argocd: Any) -> None:
    fake = make_argocd(complete_operations=False)
    fake.add_app("checkout", revisions=[GOOD, BAD])
    assert argo(fake, "POST", "/api/v1/applications/checkout/rollback", {"id": 0})[0] == 200
    assert fake.app("checkout")["status"]["operationState"]["phase"] == "Running"
    status, body = argo(fake, "POST", "/api/v1/applications/checkout/rollback", {"id": 0})
    assert (
        status == 400 and body["code"] == 9 and body["message"] == "another operation is already in progress"
    )
    app = fake.complete_operation("checkout")
    assert app["status"]["sync"]["revision"] == GOOD and len(app["status"]["history"]) == 3


def test_argocd_permission_denied_and_sync(make_argocd: Any) -> None:
    fake = make_argocd(tokens={"viewer": {"get"}, "deployer": {"get", "sync"}})
    fake.add_app("checkout", revisions=[GOOD, BAD], auto_sync=True)
    assert argo(fake, "GET", "/api/v1/applications/checkout", token="viewer")[0] == 200
    status, body = argo(fake, "POST", "/api/v1/applications/checkout/rollback", {"id": 0}, token="viewer")
    assert status == 403 and body["code"] == 7
    assert body["message"] == "permission denied: applications, sync, default/checkout, sub: viewer"
    # The GitOps alternative: sync to a revision is allowed with auto-sync on.
    status, answer = argo(
        fake, "POST", "/api/v1/applications/checkout/sync", {"revision": GOOD}, token="deployer"
    )
    assert status == 200 and answer["operation"]["sync"]["revision"] == GOOD
    assert fake.app("checkout")["status"]["sync"]["revision"] == GOOD
    assert fake.rollbacks == []


def test_argocd_fail_next(argocd: Any) -> None:
    argocd.add_app("checkout", revisions=[GOOD, BAD])
    argocd.fail_next("POST", "/api/v1/applications/checkout/rollback", 503)
    status, body = argo(argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 0})
    assert status == 503 and body["code"] == 13
    assert argo(argocd, "POST", "/api/v1/applications/checkout/rollback", {"id": 0})[0] == 200
    assert [r.status for r in argocd.requests_to("POST")] == [503, 200]

"""The Helm chart ``helm/monitor``, rendered, linted and validated for real.

What is real here:

- **helm-python-sdk** renders, lints and checks the values schema with Helm's own Go SDK (v4,
  through its C library; no ``helm`` binary, no cluster): exactly what ``helm template``,
  ``helm lint`` and ``helm install`` do with the chart.
- **kubernetes-validate** checks every rendered manifest against the Kubernetes 1.37 OpenAPI
  schemas in strict mode (an unknown or misplaced field fails). ServiceMonitor and PrometheusRule
  are Prometheus Operator CRDs, not in those schemas: they are the only kinds skipped, by name,
  and asserted field by field instead.
- **promtool** checks the PrometheusRule's groups as Prometheus would load them.
- The monitor's own parsers (``monitor.config.load_settings``, ``monitor.profiles.load_profile``)
  read the rendered config and profiles from a directory laid out as the pod's volume mounts
  lay out ``/etc/monitor``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "monitor"
MAX_VALUES = CHART / "ci" / "max-values.yaml"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate 1.37 bundles
# Prometheus Operator CRDs: kubernetes-validate has no schema for them, so they are skipped there
# (and only they) and checked field by field in their own tests.
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})
RBAC_KINDS = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
RELEASE, NAMESPACE = "monitor", "obs"

Manifest = dict[str, Any]

# The rules each rollback action type needs, exactly (the helm ones include the default extraRules).
ARGO_ROLLOUTS_RULES = [
    {"apiGroups": ["argoproj.io"], "resources": ["rollouts", "rollouts/status"], "verbs": ["get", "patch"]},
]
DEPLOYMENT_RULES = [
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list"]},
]
_WRITE = ["get", "list", "create", "update", "patch", "delete"]
HELM_RULES = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "patch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"], "verbs": _WRITE},
    {"apiGroups": [""], "resources": ["services", "configmaps"], "verbs": _WRITE},
]
ACTIONS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "webhook": (
        {"url": "https://jenkins.example.com/hook", "secret_file": "/etc/monitor/secrets/jenkins-hook"},
        [],
    ),
    "argo-rollouts": ({"namespace": "shop", "rollout": "$service"}, ARGO_ROLLOUTS_RULES),
    "kubernetes-deployment": ({"namespace": "shop", "deployment": "$service"}, DEPLOYMENT_RULES),
    "helm": ({"namespace": "shop", "release": "$service"}, HELM_RULES),
    "argocd": (
        {
            "url": "https://argocd.example.com",
            "token_file": "/etc/monitor/secrets/argocd-token",
            "application": "$service",
        },
        [],
    ),
    "feature-flag": (
        {
            "url": "https://flags.example.com/api/flags/$flag",
            "method": "PATCH",
            "body": '{"enabled": false}',
            "flag_label": "feature_flag",
        },
        [],
    ),
}


def _action(kind: str, name: str | None = None) -> dict[str, Any]:
    fields, _ = ACTIONS[kind]
    return {"name": name or kind.replace("-", "_"), "type": kind, **fields}


def _max_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(MAX_VALUES.read_text())
    return values


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm_python.Chart, values: dict[str, Any]) -> list[Manifest]:
    """Every object the chart renders for ``values`` (NOTES.txt and empty documents left out)."""
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def notes(chart: helm_python.Chart, values: dict[str, Any]) -> str:
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"{len(found)} {kind}s rendered"
    return found[0]


def config_map(manifests: list[Manifest]) -> Manifest:
    """The ConfigMap holding config.yaml (the dashboards' are others)."""
    (found,) = [m for m in of_kind(manifests, "ConfigMap") if "config.yaml" in m["data"]]
    return found


def pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(manifests: list[Manifest]) -> dict[str, Any]:
    (main,) = pod_spec(manifests)["containers"]
    return dict(main)


def env(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(manifests)["env"]}


def volumes(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in pod_spec(manifests)["volumes"]}


def mounts(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container(manifests)["volumeMounts"]}


def _load_sync() -> ModuleType:
    name = "helm_sync_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "helm" / "sync.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


VALUE_SETS: dict[str, dict[str, Any]] = {"default": {}, "max": _max_values()}


# --- The chart as a whole ------------------------------------------------------------------------


def test_chart_metadata_follows_the_package(chart: helm_python.Chart) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart.metadata["apiVersion"] == "v2"
    assert chart.metadata["appVersion"] == project["version"]
    assert chart.name == "monitor"


def test_generated_copies_match_alert_rules_and_dashboards() -> None:
    """files/ holds exact copies of alert_rules/ and dashboards/; helm/sync.py rewrites them."""
    stale = _load_sync().changes()
    assert not stale, "run .venv/bin/python helm/sync.py: " + ", ".join(
        f"{c.path.relative_to(ROOT)} ({c.reason})" for c in stale
    )
    copies = sorted(p.name for p in (CHART / "files" / "alert_rules").iterdir())
    assert copies == sorted(p.name for p in (ROOT / "alert_rules").glob("*.rules.yml"))
    slo_copies = sorted(p.name for p in (CHART / "files" / "slo_rules").iterdir())
    assert slo_copies == sorted(p.name for p in (ROOT / "alert_rules" / "slo").glob("*.slo.rules.yml"))
    assert slo_copies, "the example's SLO rules are in the chart"
    dashboards = sorted(p.name for p in (CHART / "files" / "dashboards").iterdir())
    assert dashboards == sorted(p.name for p in (ROOT / "dashboards").glob("*.json"))


def test_sync_finds_and_repairs_drift(tmp_path: Path) -> None:
    """helm/sync.py on a scratch copy: an edited rule, a removed dashboard, a new version."""
    sync = _load_sync()
    root, chart = tmp_path / "repo", tmp_path / "repo" / "helm" / "monitor"
    for name in ("alert_rules", "dashboards"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copytree(CHART / "files", chart / "files")
    shutil.copy(CHART / "Chart.yaml", chart / "Chart.yaml")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.9.9"\n')
    rules = next((root / "alert_rules").glob("*.rules.yml"))
    rules.write_text(rules.read_text() + "# edited\n")
    slo_rules = next((root / "alert_rules" / "slo").glob("*.slo.rules.yml"))
    slo_rules.write_text(slo_rules.read_text() + "# regenerated\n")
    gone = next((root / "dashboards").glob("*.json"))
    gone.unlink()

    found = {(c.path.relative_to(chart).as_posix(), c.content is None) for c in sync.changes(root, chart)}
    assert found == {
        (f"files/alert_rules/{rules.name}", False),
        (f"files/slo_rules/{slo_rules.name}", False),
        (f"files/dashboards/{gone.name}", True),
        ("Chart.yaml", False),
    }
    sync.apply(sync.changes(root, chart))
    assert sync.changes(root, chart) == []
    assert (chart / "files" / "alert_rules" / rules.name).read_text().endswith("# edited\n")
    assert (chart / "files" / "slo_rules" / slo_rules.name).read_text().endswith("# regenerated\n")
    assert not (chart / "files" / "dashboards" / gone.name).exists()
    assert 'appVersion: "9.9.9"' in (chart / "Chart.yaml").read_text()


def test_sync_script_check_mode_passes() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "helm" / "sync.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("values_name", VALUE_SETS)
def test_lint_finds_nothing(values_name: str) -> None:
    report = helm_python.lint(CHART, VALUE_SETS[values_name], strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); 2 is a warning, 3 an error.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values_name", VALUE_SETS)
def test_every_manifest_is_valid_kubernetes(chart: helm_python.Chart, values_name: str) -> None:
    manifests = render(chart, VALUE_SETS[values_name])
    validated = []
    for manifest in manifests:
        if manifest["kind"] in CRD_KINDS:
            continue  # CRDs: no schema in kubernetes-validate; see the ServiceMonitor/PrometheusRule tests
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        validated.append(manifest["kind"])
    assert "Deployment" in validated


def test_default_values_render_the_least(chart: helm_python.Chart) -> None:
    manifests = render(chart, {})
    assert sorted(m["kind"] for m in manifests) == [
        "ConfigMap", "Deployment", "PersistentVolumeClaim", "Service", "ServiceAccount"
    ]  # fmt: skip
    assert pod_spec(manifests)["automountServiceAccountToken"] is False
    assert one(manifests, "Deployment")["spec"]["replicas"] == 1


def test_max_values_render_every_kind(chart: helm_python.Chart) -> None:
    manifests = render(chart, _max_values())
    kinds = {m["kind"] for m in manifests}
    assert kinds == {
        "ConfigMap", "Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "ServiceMonitor",
        "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget", "Ingress",
    }  # fmt: skip
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "monitor"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == chart.metadata["appVersion"]


# --- The pod ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("values_name", VALUE_SETS)
def test_pod_security_context(chart: helm_python.Chart, values_name: str) -> None:
    manifests = render(chart, VALUE_SETS[values_name])
    pod = pod_spec(manifests)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(manifests)["securityContext"]
    assert main["runAsNonRoot"] is True
    assert main["runAsUser"] == 10001
    assert main["readOnlyRootFilesystem"] is True
    assert main["allowPrivilegeEscalation"] is False
    assert main["capabilities"] == {"drop": ["ALL"]}
    assert main["seccompProfile"] == {"type": "RuntimeDefault"}
    # A read-only root needs a writable /tmp (the engine's sockets live there).
    assert "emptyDir" in volumes(manifests)[mounts(manifests)["/tmp"]["name"]]


@pytest.mark.parametrize("values_name", VALUE_SETS)
def test_container_serves_with_the_config_and_probes(chart: helm_python.Chart, values_name: str) -> None:
    values = VALUE_SETS[values_name]
    manifests = render(chart, values)
    main = container(manifests)
    assert "command" not in main  # the image's entrypoint is `monitor`
    assert main["args"] == ["serve", "--listen", "0.0.0.0:8080", "--config", "/etc/monitor/config.yaml"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["resources"]["requests"]["memory"]
    assert env(manifests)["MONITOR_PROMETHEUS_URL"]["value"] == chart.merge_values(values)["prometheusUrl"]
    config_mount = mounts(manifests)["/etc/monitor/config.yaml"]
    assert config_mount["readOnly"] is True
    assert (
        volumes(manifests)[config_mount["name"]]["configMap"]["name"]
        == config_map(manifests)["metadata"]["name"]
    )
    service = one(manifests, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert pod_spec(manifests)["serviceAccountName"] == one(manifests, "ServiceAccount")["metadata"]["name"]


def test_image_defaults_to_the_app_version(chart: helm_python.Chart) -> None:
    assert container(render(chart, {}))["image"] == f"deploy-monitor:{chart.metadata['appVersion']}"
    assert container(render(chart, {"image": {"tag": "abc"}}))["image"] == "deploy-monitor:abc"


def test_sqlite_by_default_on_a_claim_with_one_pod_at_a_time(chart: helm_python.Chart) -> None:
    """The history survives a restart: SQLite's file is on a ReadWriteOnce claim, which one pod
    uses at a time (one replica, and Recreate: the old pod lets go before the new one mounts it)."""
    manifests = render(chart, {})
    assert env(manifests)["MONITOR_DATABASE"] == {
        "name": "MONITOR_DATABASE",
        "value": "sqlite:////var/lib/monitor/monitor.db",
    }
    claim = one(manifests, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == f"{RELEASE}-data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    data = volumes(manifests)[mounts(manifests)["/var/lib/monitor"]["name"]]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"} and deployment["spec"]["replicas"] == 1
    # The pod's group owns the mounted volume, so user 10001 writes the database on it.
    assert pod_spec(manifests)["securityContext"]["fsGroup"] == 10001


def test_sqlite_persistence_sized_reused_or_off(chart: helm_python.Chart) -> None:
    values = {"database": {"persistence": {"size": "5Gi", "storageClass": "fast"}}}
    manifests = render(chart, values)
    claim = one(manifests, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)

    manifests = render(chart, {"database": {"persistence": {"existingClaim": "mine"}}})
    assert not of_kind(manifests, "PersistentVolumeClaim")
    assert volumes(manifests)["data"]["persistentVolumeClaim"] == {"claimName": "mine"}

    manifests = render(chart, {"database": {"persistence": {"enabled": False}}})
    assert not of_kind(manifests, "PersistentVolumeClaim")
    assert volumes(manifests)["data"]["emptyDir"] == {}
    assert "history goes with the pod" in notes(chart, {"database": {"persistence": {"enabled": False}}})
    assert f"PersistentVolumeClaim {RELEASE}-data" in notes(chart, {})


def test_postgresql_url_comes_from_the_secret(chart: helm_python.Chart) -> None:
    values = {"replicaCount": 2, "database": {"existingSecret": "pg", "secretKey": "url"}}
    manifests = render(chart, values)
    assert env(manifests)["MONITOR_DATABASE"]["valueFrom"] == {"secretKeyRef": {"name": "pg", "key": "url"}}
    assert one(manifests, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    assert one(manifests, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert not of_kind(manifests, "PersistentVolumeClaim")


def test_several_replicas_on_sqlite_fail_rendering_with_the_reason(chart: helm_python.Chart) -> None:
    # The rule lives in the template, not the schema: the schema's error would only name a field,
    # the template's says why and what to set.
    chart.validate_schema({"replicaCount": 3})
    with pytest.raises(helm_python.HelmRenderError) as failure:
        chart.render({"replicaCount": 2}, name=RELEASE, namespace=NAMESPACE)
    message = str(failure.value)
    assert "replicaCount is 2 but the database is SQLite, which allows one replica" in message
    assert "set database.existingSecret" in message
    assert "postgresql://" in message


def test_pdb_only_with_several_replicas(chart: helm_python.Chart) -> None:
    assert not of_kind(render(chart, {}), "PodDisruptionBudget")
    pdb = one(render(chart, _max_values()), "PodDisruptionBudget")
    selector = one(render(chart, _max_values()), "Deployment")["spec"]["selector"]
    assert pdb["spec"]["selector"] == selector


def test_changed_config_rolls_the_pods(chart: helm_python.Chart) -> None:
    def checksum(values: dict[str, Any]) -> str:
        annotations = one(render(chart, values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/config"])

    base = checksum({})
    assert checksum({}) == base
    assert checksum({"config": {"environment": "staging"}}) != base
    assert checksum({"profiles": {"p": "name: p\n"}}) != base


# --- Config, profiles and secrets -----------------------------------------------------------------


def test_config_map_carries_the_config_and_profiles(chart: helm_python.Chart) -> None:
    values = _max_values()
    manifests = render(chart, values)
    data = config_map(manifests)["data"]
    assert yaml.safe_load(data["config.yaml"]) == values["config"]
    assert data["profile.checkout.yaml"] == values["profiles"]["checkout"]
    assert yaml.safe_load(data["profile.payments.yaml"]) == values["profiles"]["payments"]
    assert yaml.safe_load(config_map(render(chart, {}))["data"]["config.yaml"]) == {}
    # Secrets by reference only: the chart renders no Secret at all.
    assert not of_kind(manifests, "Secret")
    secrets = mounts(manifests)["/etc/monitor/secrets"]
    assert secrets["readOnly"] is True
    assert volumes(manifests)[secrets["name"]]["secret"]["secretName"] == values["existingSecret"]
    assert "/etc/monitor/secrets" not in mounts(render(chart, {}))


def _lay_out_etc_monitor(manifests: list[Manifest], rootfs: Path, secrets: dict[str, str]) -> None:
    """Write what the container's volume mounts show under /etc/monitor, as the kubelet would."""
    config_maps = {m["metadata"]["name"]: m["data"] for m in of_kind(manifests, "ConfigMap")}
    by_name = volumes(manifests)
    for mount in container(manifests)["volumeMounts"]:
        target = rootfs / mount["mountPath"].lstrip("/")
        volume = by_name[mount["name"]]
        if "configMap" in volume:
            data = config_maps[volume["configMap"]["name"]]
            files = {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}
        elif "secret" in volume:
            files = secrets
        else:
            target.mkdir(parents=True, exist_ok=True)
            continue
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[mount["subPath"]])
            continue
        for path, content in files.items():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_text(content)


def test_the_monitor_reads_the_rendered_config_and_profiles(chart: helm_python.Chart, tmp_path: Path) -> None:
    """The max values' config and profiles, mounted as the pod mounts them, parse with the monitor's code."""
    from monitor.config import load_settings
    from monitor.profiles import load_profile

    manifests = render(chart, _max_values())
    rootfs = tmp_path / "rootfs"
    config_text = config_map(manifests)["data"]["config.yaml"]
    referenced = sorted({
        word.split("/etc/monitor/secrets/")[1].strip("'\"")
        for word in config_text.split()
        if word.startswith("/etc/monitor/secrets/")
    })  # fmt: skip
    assert referenced, "the max values' config refers to no secret file"
    _lay_out_etc_monitor(manifests, rootfs, {key: f"{key}-0123456789abcdef" for key in referenced})
    # The config names absolute paths under /etc/monitor: point them at the laid-out copy.
    config_path = rootfs / container(manifests)["args"][-1].lstrip("/")
    config_path.write_text(config_path.read_text().replace("/etc/monitor/", f"{rootfs}/etc/monitor/"))

    settings = load_settings(config_path, environ={})
    assert {token.name for token in settings.tokens} == {"ci", "prometheus", "otel-collector"}
    assert sorted(action.type.value for action in settings.rollback.actions) == sorted(ACTIONS)
    for profile in (rootfs / "etc" / "monitor" / "profiles").iterdir():
        assert load_profile(str(profile)).name == profile.stem
    production = next(env for env in settings.environments if env.name == "production")
    assert production.profile is not None
    assert load_profile(str(config_path.parent / production.profile)).name == "checkout"


def test_notes_warn_when_the_daemon_would_refuse_to_start(chart: helm_python.Chart) -> None:
    assert "config.tokens is empty" in notes(chart, {})
    assert "config.tokens is empty" not in notes(chart, _max_values())
    assert "config.tokens is empty" not in notes(chart, {"insecureNoAuth": True})
    assert env(render(chart, {"insecureNoAuth": True}))["MONITOR_INSECURE_NO_AUTH"]["value"] == "1"


# --- RBAC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ACTIONS)
def test_rbac_rules_are_exactly_what_the_action_needs(chart: helm_python.Chart, kind: str) -> None:
    manifests = render(chart, {"config": {"rollback": {"actions": [_action(kind)]}}})
    expected = ACTIONS[kind][1]
    if not expected:
        assert not [m for m in manifests if m["kind"] in RBAC_KINDS]
        assert pod_spec(manifests)["automountServiceAccountToken"] is False
        return
    role = one(manifests, "ClusterRole")
    assert role["rules"] == expected
    binding = one(manifests, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    account = one(manifests, "ServiceAccount")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    assert pod_spec(manifests)["automountServiceAccountToken"] is True
    assert not of_kind(manifests, "Role")
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_no_rbac_without_actions(chart: helm_python.Chart) -> None:
    assert not [m for m in render(chart, {}) if m["kind"] in RBAC_KINDS]
    assert not [
        m for m in render(chart, {"config": {"rollback": {"actions": []}}}) if m["kind"] in RBAC_KINDS
    ]


def test_namespaced_rbac_for_every_action_type(chart: helm_python.Chart) -> None:
    values = _max_values()
    manifests = render(chart, values)
    roles, bindings = of_kind(manifests, "Role"), of_kind(manifests, "RoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(values["rbac"]["namespaces"])
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(values["rbac"]["namespaces"])
    for role in roles:
        assert role["rules"] == ARGO_ROLLOUTS_RULES + DEPLOYMENT_RULES + HELM_RULES
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "deploy-monitor", "namespace": NAMESPACE}
        ]
    assert not of_kind(manifests, "ClusterRole") and not of_kind(manifests, "ClusterRoleBinding")


def test_rbac_create_false_keeps_the_token_for_own_bindings(chart: helm_python.Chart) -> None:
    values = {"rbac": {"create": False}, "config": {"rollback": {"actions": [_action("helm")]}}}
    manifests = render(chart, values)
    assert not [m for m in manifests if m["kind"] in RBAC_KINDS]
    assert pod_spec(manifests)["automountServiceAccountToken"] is True


def test_helm_extra_rules_are_configurable(chart: helm_python.Chart) -> None:
    extra = [{"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get", "patch"]}]
    values = {"rbac": {"helm": {"extraRules": extra}}, "config": {"rollback": {"actions": [_action("helm")]}}}
    assert one(render(chart, values), "ClusterRole")["rules"] == HELM_RULES[:1] + extra


def test_namespaced_rbac_must_cover_the_actions_namespaces(chart: helm_python.Chart) -> None:
    values = {
        "rbac": {"namespaces": ["other"]},
        "config": {"rollback": {"actions": [_action("argo-rollouts")]}},
    }
    with pytest.raises(
        helm_python.HelmRenderError, match=r'namespace "shop", which rbac\.namespaces does not list'
    ):
        render(chart, values)
    templated = _action("argo-rollouts") | {"namespace": "$label_namespace"}
    render(chart, {"rbac": {"namespaces": ["other"]}, "config": {"rollback": {"actions": [templated]}}})


# --- Values schema ---------------------------------------------------------------------------------


def test_values_schema_is_draft_07_and_describes_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema, cls=jsonschema.Draft7Validator)
    jsonschema.validate(_max_values(), schema, cls=jsonschema.Draft7Validator)

    def covered(values: dict[str, Any], node: dict[str, Any], where: str) -> None:
        for key, value in values.items():
            assert key in node.get("properties", {}), f"{where}{key} is not in values.schema.json"
            child = node["properties"][key]
            if isinstance(value, dict) and child.get("additionalProperties") is False:
                covered(value, child, f"{where}{key}.")

    def described(node: dict[str, Any], where: str) -> None:
        for key, child in node.get("properties", {}).items():
            assert child.get("description"), f"{where}{key} has no description in values.schema.json"
            described(child, f"{where}{key}.")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                described(node[key], f"{where}{key}.")

    covered(defaults, schema, "")
    described({"properties": schema["properties"]}, "")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicaCont": 1}, "replicaCont"),
        ({"serviceMonitor": {"enabeld": True}}, "enabeld"),
        ({"database": {"existingsecret": "pg"}}, "existingsecret"),
        (
            {"config": {"rollback": {"actions": [{"name": "x", "type": "kubectl"}]}}},
            "/config/rollback/actions/0/type",
        ),
        ({"config": {"rollback": {"actions": [{"name": "x", "type": "helm"}]}}}, "namespace"),
        (
            {"rbac": {"helm": {"extraRules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}}},
            "verbs",
        ),
    ],
)
def test_schema_rejects_typos_and_unknown_values(
    chart: helm_python.Chart, values: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=named):
        chart.validate_schema(values)
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --- Prometheus, Grafana, network -----------------------------------------------------------------


RUNBOOKS = "https://git.example.com/platform/deploy-health-monitor/blob/main"


def _alert_rule_groups(
    pattern: str = "*.rules.yml", directory: Path = ROOT / "alert_rules"
) -> list[dict[str, Any]]:
    return [
        group
        for path in sorted(directory.glob(pattern))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]


def _slo_rule_groups() -> list[dict[str, Any]]:
    """The groups of alert_rules/slo/ (monitor slo generate's files for the example's SLOs)."""
    return _alert_rule_groups("*.slo.rules.yml", ROOT / "alert_rules" / "slo")


def _absolute_runbooks(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for group in groups:
        for rule in group["rules"]:
            if "runbook_url" in rule.get("annotations", {}):
                rule["annotations"]["runbook_url"] = f"{RUNBOOKS}/{rule['annotations']['runbook_url']}"
    return groups


def _promtool_checks(groups: list[dict[str, Any]], tmp_path: Path) -> None:
    """As Prometheus loads them: the re-serialized rules pass promtool."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    extracted = tmp_path / "rule.yml"
    extracted.write_text(yaml.safe_dump({"groups": groups}))
    check = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_prometheus_rule_carries_exactly_the_alert_rules(chart: helm_python.Chart, tmp_path: Path) -> None:
    """The groups of alert_rules/, each runbook_url made absolute; no SLO's unless asked for: the
    example's checkout SLO must not page on an install's own checkout service."""
    assert not of_kind(render(chart, {}), "PrometheusRule")
    values = {"prometheusRule": {"enabled": True, "labels": {"release": "kps"}, "runbookBaseUrl": RUNBOOKS}}
    rule = one(render(chart, values), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kps"
    expected = _absolute_runbooks(_alert_rule_groups())
    assert rule["spec"]["groups"] == expected
    assert set(rule["spec"]) == {"groups"}
    _promtool_checks(rule["spec"]["groups"], tmp_path)


def test_prometheus_rule_carries_the_slo_recordings_and_burn_alerts_unless_disabled(
    chart: helm_python.Chart, tmp_path: Path
) -> None:
    """Off by default; enabled, ``sloRules.groups``, a user's own, or, asked for by
    ``exampleCopies``, the SLO groups (ratios, alerts, budget) of alert_rules/slo/; ``enabled:
    false`` leaves only the monitor's alerts, whatever ``groups`` holds."""
    base = {"enabled": True, "runbookBaseUrl": RUNBOOKS}
    on = {**base, "sloRules": {"enabled": True, "exampleCopies": True}}
    names = [
        g["name"] for g in one(render(chart, {"prometheusRule": on}), "PrometheusRule")["spec"]["groups"]
    ]
    slo_names = [g["name"] for g in _slo_rule_groups()]
    assert slo_names == [
        "slo-checkout-availability-sli",
        "slo-checkout-availability-alerts",
        "slo-checkout-availability-budget",
    ]
    assert names == [g["name"] for g in _alert_rule_groups()] + slo_names

    off = one(render(chart, {"prometheusRule": {**base, "sloRules": {"enabled": False}}}), "PrometheusRule")
    assert off["spec"]["groups"] == _absolute_runbooks(_alert_rule_groups())
    default = one(render(chart, {"prometheusRule": base}), "PrometheusRule")
    assert default["spec"]["groups"] == off["spec"]["groups"]

    own = [{"name": "slo-payments-alerts", "rules": [{
        "alert": "ErrorBudgetBurn", "expr": "vector(1) > 2", "for": "2m",
        "labels": {"severity": "page", "service": "payments", "slo": "payments"},
        "annotations": {"summary": "s", "description": "d", "runbook_url": "docs/runbooks.md#slo-burn"},
    }]}]  # fmt: skip
    mine = one(
        render(chart, {"prometheusRule": {**base, "sloRules": {"enabled": True, "groups": own}}}),
        "PrometheusRule",
    )
    assert mine["spec"]["groups"] == _absolute_runbooks(_alert_rule_groups()) + _absolute_runbooks(own)
    unasked = {"prometheusRule": {**base, "sloRules": {"enabled": False, "groups": own}}}
    assert one(render(chart, unasked), "PrometheusRule")["spec"]["groups"] == off["spec"]["groups"]
    _promtool_checks(mine["spec"]["groups"], tmp_path)
    # A runbook_url that is already a link stays as it is.
    own[0]["rules"][0]["annotations"]["runbook_url"] = "https://runbooks.example.com/slo"
    linked = one(
        render(chart, {"prometheusRule": {**base, "sloRules": {"enabled": True, "groups": own}}}),
        "PrometheusRule",
    )
    assert (
        linked["spec"]["groups"][-1]["rules"][0]["annotations"]["runbook_url"]
        == "https://runbooks.example.com/slo"
    )
    with pytest.raises(helm_python.HelmValuesError, match="name"):
        chart.validate_schema({"prometheusRule": {**base, "sloRules": {"groups": [{"rules": []}]}}})


@pytest.mark.parametrize(
    "slo_rules", [{"enabled": True}, {"enabled": True, "groups": [], "exampleCopies": False}]
)
def test_slo_rules_enabled_without_groups_fails_instead_of_installing_the_examples(
    chart: helm_python.Chart, slo_rules: dict[str, Any]
) -> None:
    """Enabled with no groups of one's own would install the example's checkout SLO, which could
    page on a real checkout service: rendering fails, naming the value and the two ways out."""
    values = {"prometheusRule": {"enabled": True, "runbookBaseUrl": RUNBOOKS, "sloRules": slo_rules}}
    chart.validate_schema(values)  # the schema lets it through: the template says what to set
    with pytest.raises(helm_python.HelmRenderError) as failure:
        render(chart, values)
    message = str(failure.value)
    assert "prometheusRule.sloRules.groups is empty" in message
    assert "monitor slo generate" in message and "prometheusRule.sloRules.exampleCopies: true" in message
    # exampleCopies alone, without enabled, installs nothing.
    copies_only = {"enabled": True, "runbookBaseUrl": RUNBOOKS, "sloRules": {"exampleCopies": True}}
    groups = one(render(chart, {"prometheusRule": copies_only}), "PrometheusRule")["spec"]["groups"]
    assert groups == _absolute_runbooks(_alert_rule_groups())


def test_prometheus_rule_links_runbooks_absolutely_or_refuses(chart: helm_python.Chart) -> None:
    """A relative runbook_url is no link an on-call can open from a page: the base URL is required."""
    # One slash, not two; the SLO groups too.
    copies = {"enabled": True, "exampleCopies": True}
    values = {"prometheusRule": {"enabled": True, "runbookBaseUrl": RUNBOOKS + "/", "sloRules": copies}}
    slo_groups = {g["name"] for g in _slo_rule_groups()}
    alerts = 0
    for group in one(render(chart, values), "PrometheusRule")["spec"]["groups"]:
        for alert in group["rules"]:
            if "record" in alert:
                assert "annotations" not in alert
                continue
            url = alert["annotations"]["runbook_url"]
            section = "slo-burn" if group["name"] in slo_groups else alert["alert"].lower()
            assert url == f"{RUNBOOKS}/docs/runbooks.md#{section}", url
            alerts += 1
    assert alerts == sum(
        1 for g in _alert_rule_groups() + _slo_rule_groups() for r in g["rules"] if "alert" in r
    )
    # The rule lives in the template, not the schema: the template's message says what to set.
    with pytest.raises(helm_python.HelmRenderError, match=r"set prometheusRule\.runbookBaseUrl to where"):
        render(chart, {"prometheusRule": {"enabled": True}})


def test_service_monitor_scrapes_as_job_deploy_monitor_with_a_token(chart: helm_python.Chart) -> None:
    values = _max_values()
    manifests = render(chart, values)
    monitor, service = one(manifests, "ServiceMonitor"), one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    # The alert rules select job="deploy-monitor": the Service's label named by jobLabel says so.
    assert service["metadata"]["labels"][spec["jobLabel"]] == "deploy-monitor"
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "http"
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": values["existingSecret"], "key": "metrics-token"},
    }
    # That key is a read token of the config.
    token_files = {t["token_file"]: t["scopes"] for t in values["config"]["tokens"]}
    assert "read" in token_files["/etc/monitor/secrets/metrics-token"]


def test_service_monitor_without_a_token_secret_fails(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmRenderError, match="/metrics needs a token with the read scope"):
        render(chart, {"serviceMonitor": {"enabled": True}})
    manifests = render(
        chart, {"serviceMonitor": {"enabled": True, "tokenSecret": {"name": "scrape", "key": "t"}}}
    )
    credentials = one(manifests, "ServiceMonitor")["spec"]["endpoints"][0]["authorization"]["credentials"]
    assert credentials == {"name": "scrape", "key": "t"}


def test_dashboards_as_sidecar_config_maps(chart: helm_python.Chart) -> None:
    assert len(of_kind(render(chart, {}), "ConfigMap")) == 1
    values = {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"}}
    boards = [
        m
        for m in of_kind(render(chart, values), "ConfigMap")
        if "grafana_dashboard" in m["metadata"]["labels"]
    ]
    sources = sorted((ROOT / "dashboards").glob("*.json"))
    assert len(boards) == len(sources)
    by_file = {name: board for board in boards for name in board["data"]}
    for source in sources:
        board = by_file[source.name]
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert board["metadata"]["namespace"] == NAMESPACE
        assert list(board["data"]) == [source.name]
        assert json.loads(board["data"][source.name]) == json.loads(source.read_text())
    custom = {"dashboards": {"enabled": True, "label": "dash", "labelValue": "yes", "namespace": "grafana"}}
    for board in [
        m for m in of_kind(render(chart, custom), "ConfigMap") if "dash" in m["metadata"]["labels"]
    ]:
        assert board["metadata"]["labels"]["dash"] == "yes"
        assert board["metadata"]["namespace"] == "grafana"


def test_network_policy_admits_port_8080_and_leaves_egress_open(chart: helm_python.Chart) -> None:
    assert not of_kind(render(chart, {}), "NetworkPolicy")
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ci"}}}]
    policy = one(render(chart, {"networkPolicy": {"enabled": True, "ingressFrom": peers}}), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}], "from": peers}]
    anyone = one(render(chart, {"networkPolicy": {"enabled": True}}), "NetworkPolicy")
    assert anyone["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]

    values = _max_values()
    restricted = one(render(chart, values), "NetworkPolicy")
    assert restricted["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert restricted["spec"]["egress"] == values["networkPolicy"]["egressRules"]
    assert restricted["spec"]["podSelector"] == one(render(chart, values), "Deployment")["spec"]["selector"]


# --- Ingress, public URL, signed report links -----------------------------------------------------


def test_ingress_is_off_by_default_and_routes_the_host_to_the_service(chart: helm_python.Chart) -> None:
    assert not of_kind(render(chart, {}), "Ingress")
    values = _max_values()
    manifests = render(chart, values)
    ingress, service = one(manifests, "Ingress"), one(manifests, "Service")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert spec["tls"] == [{"hosts": ["deploy-monitor.example.com"], "secretName": "deploy-monitor-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "deploy-monitor.example.com"
    backend = {"service": {"name": service["metadata"]["name"], "port": {"name": "http"}}}
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": backend}]
    assert service["spec"]["ports"][0]["name"] == "http"

    plain = one(
        render(chart, {"ingress": {"enabled": True, "host": "monitor.internal", "paths": [
            {"path": "/api", "pathType": "Prefix"}, {"path": "/healthz", "pathType": "Exact"}
        ]}}),
        "Ingress",
    )  # fmt: skip
    assert "tls" not in plain["spec"] and "ingressClassName" not in plain["spec"]
    assert [p["path"] for p in plain["spec"]["rules"][0]["http"]["paths"]] == ["/api", "/healthz"]
    kubernetes_validate.validate(plain, KUBERNETES_VERSION, strict=True)
    with pytest.raises(helm_python.HelmRenderError, match=r"set ingress\.host"):
        render(chart, {"ingress": {"enabled": True, "host": ""}})
    with pytest.raises(helm_python.HelmValuesError, match="pathType"):
        chart.validate_schema({"ingress": {"paths": [{"path": "/", "pathType": "Regex"}]}})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"publicUrl": "https://monitor.example.org"}, "https://monitor.example.org"),
        ({"ingress": {"enabled": True, "host": "m.example.org"}}, "http://m.example.org"),
        (
            {"ingress": {"enabled": True, "host": "m.example.org", "tls": {"enabled": True}}},
            "https://m.example.org",
        ),
        # The config's own public_url is not overridden by the ingress' default...
        ({"ingress": {"enabled": True}, "config": {"public_url": "https://other.example.org"}}, None),
        # ...but an explicit publicUrl is the chart's word.
        ({"publicUrl": "https://a.example.org", "ingress": {"enabled": True}}, "https://a.example.org"),
    ],
)
def test_public_url_from_the_value_or_the_ingress(
    chart: helm_python.Chart, values: dict[str, Any], expected: str | None
) -> None:
    variables = env(render(chart, values))
    assert variables.get("MONITOR_PUBLIC_URL", {}).get("value") == expected
    if expected is not None:
        assert f"From outside (MONITOR_PUBLIC_URL, the base of report links): {expected}" in notes(
            chart, values
        )


def test_report_link_key_is_a_read_only_file_named_by_its_variable(chart: helm_python.Chart) -> None:
    """The key from an existing Secret (the chart creates none), one file, read-only, and only it."""
    assert "MONITOR_REPORT_LINK_KEY_FILE" not in env(render(chart, {}))
    assert "report-links" not in volumes(render(chart, {}))
    manifests = render(chart, {"reportLinks": {"existingSecret": "links", "key": "k"}})
    path = env(manifests)["MONITOR_REPORT_LINK_KEY_FILE"]["value"]
    directory, name = path.rsplit("/", 1)
    mount = mounts(manifests)[directory]
    assert mount["readOnly"] is True and name == "k"
    assert volumes(manifests)[mount["name"]]["secret"] == {
        "secretName": "links",
        "defaultMode": 0o440,
        "items": [{"key": "k", "path": "k"}],
    }
    assert not of_kind(manifests, "Secret")
    assert pod_spec(manifests)["automountServiceAccountToken"] is False  # nothing else widened
    # The variable is the monitor's own (monitor/envvars.py), as the other MONITOR_* it sets.
    from monitor.envvars import VARIABLES

    known = {variable.name for variable in VARIABLES}
    assert {"MONITOR_REPORT_LINK_KEY_FILE", "MONITOR_PUBLIC_URL"} <= known
    assert {name for name in env(render(chart, _max_values())) if name.startswith("MONITOR_")} <= known


# --- One address, and runbooks that find the pods -------------------------------------------------


def _documented_install() -> tuple[str, str]:
    """The release and namespace of docs/helm.md's `helm install` command."""
    text = (ROOT / "docs" / "helm.md").read_text()
    match = re.search(r"^helm install (\S+) \./helm/monitor (?:-n|--namespace) (\S+)", text, re.M)
    assert match is not None, "docs/helm.md: no `helm install RELEASE ./helm/monitor --namespace NS`"
    return match.group(1), match.group(2)


def _installed(chart: helm_python.Chart) -> tuple[str, list[Manifest], str]:
    """The namespace, objects and notes of docs/helm.md's install command, with default values."""
    release, namespace = _documented_install()
    rendered = chart.render({}, name=release, namespace=namespace)
    objects = [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    notes_text = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    return namespace, objects, notes_text


def test_the_documented_install_serves_at_the_address_the_examples_use(chart: helm_python.Chart) -> None:
    """tests/test_examples.py holds every example to http://deploy-monitor.monitoring.svc:8080: the
    Service that docs/helm.md's install command creates."""
    namespace, objects, notes_text = _installed(chart)
    service = one(objects, "Service")
    url = f"http://{service['metadata']['name']}.{namespace}.svc:{service['spec']['ports'][0]['port']}"
    assert url == "http://deploy-monitor.monitoring.svc:8080"
    assert f"In the cluster: {url}" in notes_text and f"monitor gate --url {url}" in notes_text
    assert url in (ROOT / "docs" / "pipelines.md").read_text()


def _selectors(text: str) -> list[str]:
    """The label selectors of ``kubectl ... -l SELECTOR`` commands in ``text``."""
    return re.findall(r"kubectl[^`\n]*?\s(?:-l|--selector)[ =]([^\s`]+)", text)


def test_runbook_selectors_select_the_chart_s_pods(chart: helm_python.Chart) -> None:
    namespace, objects, _ = _installed(chart)
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    texts = {"docs/runbooks.md": (ROOT / "docs" / "runbooks.md").read_text()}
    for group in _alert_rule_groups():
        for alert in group["rules"]:
            texts[f"alert {alert['alert']}"] = " ".join(map(str, alert["annotations"].values()))
    found = {where: _selectors(text) for where, text in texts.items()}
    assert found["docs/runbooks.md"], "docs/runbooks.md has no kubectl -l command"
    for where, selectors in found.items():
        for selector in selectors:
            wanted = dict(pair.split("=", 1) for pair in selector.split(","))
            assert wanted.items() <= labels.items(), f"{where}: -l {selector} selects no pod of {labels}"
    # And in the namespace the chart is installed in.
    for command in re.findall(r"kubectl[^`\n]*", texts["docs/runbooks.md"]):
        if " -l " in command:
            assert f"-n {namespace}" in command, command

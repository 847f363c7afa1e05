"""``monitor provision`` against a Grafana fake, and the provisioned rules on a real Prometheus.

No Grafana server can run here: the ``grafana`` fixture is a fake of Grafana 11.4 built from
``docs/integrations.md`` that validates every request body against the request-body schemas of
Grafana's published OpenAPI spec (``tests/fakes/grafana.py``); each test ends by asserting
that no request violated the spec. The rule expressions are run on the real Prometheus of
``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes.grafana import ADMIN_TOKEN, VIEWER_TOKEN

import monitor.commands.provision as provision_command
from monitor.cli import main
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS
from monitor.grafana.client import Grafana, GrafanaError
from monitor.grafana.dashboards import build_dashboards
from monitor.grafana.provision import Desired, apply, plan, plan_against_empty
from monitor.grafana.rules import grafana_rule_group, load_rule_groups
from monitor.settings.grafana import GrafanaSpec
from monitor.simulate import SimulatedPrometheus

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alert_rules"
PD_KEY = "0123456789abcdef0123456789abcdef"


def _config(tmp_path: Path, url: str, token: str, *, pager: bool = True) -> Path:
    (tmp_path / "grafana-token").write_text(token + "\n")
    (tmp_path / "pd-key").write_text(PD_KEY)
    grafana: dict[str, Any] = {
        "url": url,
        "token_file": "grafana-token",
        "datasource": {"name": "Prometheus", "uid": "prometheus", "url": "http://prometheus:9090"},
    }
    if pager:
        grafana["contact_point"] = {
            "name": "deploy-monitor-pager",
            "type": "pagerduty",
            "settings": {"severity": "critical"},
            "secure_settings": {"integrationKey": {"secret_file": "pd-key"}},
        }
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps({"grafana": grafana}))  # JSON is YAML
    return path


def _provision(config: Path, *flags: str) -> int:
    return main(["provision", "--config", str(config), "--rules-dir", str(RULES), *flags])


def _desired(fake: Any, token: str = ADMIN_TOKEN) -> tuple[Grafana, Desired]:
    spec = GrafanaSpec(url=fake.url, token=token)
    grafana = Grafana(spec, sleep=lambda _: None)
    return grafana, Desired(spec, build_dashboards(), load_rule_groups(RULES), datasource_uid="prometheus")


def test_provisioning_creates_everything_and_a_second_run_writes_nothing(
    grafana: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, grafana.url, ADMIN_TOKEN)
    assert _provision(config) == EXIT_PASS
    dashboards = build_dashboards()
    assert set(grafana.folders) == {"deploy-monitor"}
    assert {uid: grafana.dashboard_folder(uid) for uid in grafana.dashboards} == {
        str(model["uid"]): "deploy-monitor" for model in dashboards.values()
    }
    assert set(grafana.datasources) == {"prometheus"}
    rules = {rule.alert for group in load_rule_groups(RULES) for rule in group.rules}
    assert {rule["title"] for rule in grafana.alert_rules.values()} == rules
    assert all(rule["provenance"] == "api" for rule in grafana.alert_rules.values())
    [contact] = [c for c in grafana.contact_points.values() if c["name"] == "deploy-monitor-pager"]
    assert contact["settings"]["integrationKey"] == PD_KEY
    assert grafana.policy["routes"][0]["receiver"] == "deploy-monitor-pager"
    assert grafana.policy["receiver"] == "grafana-default-email"  # the rest of the tree is kept
    assert PD_KEY not in capsys.readouterr().out  # secrets are never printed

    writes = grafana.writes()
    versions = {uid: len(grafana.dashboard_versions(uid)) for uid in grafana.dashboards}
    assert _provision(config) == EXIT_PASS
    out = capsys.readouterr().out
    assert grafana.writes() == writes, "the second run wrote to Grafana"
    assert {uid: len(grafana.dashboard_versions(uid)) for uid in grafana.dashboards} == versions
    assert "provisioned: 0 written" in out and "create" not in out and "update " not in out
    assert _provision(config, "--check") == EXIT_PASS
    assert grafana.violations == []


def test_check_and_dry_run_report_an_edit_made_in_grafana_and_write_nothing(
    grafana: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, grafana.url, ADMIN_TOKEN, pager=False)
    assert _provision(config) == EXIT_PASS
    edited = grafana.dashboards["deploy-monitor-health"]
    edited["title"] = "Edited by hand"
    status, _ = grafana.api(
        "POST", "/api/dashboards/db", {"dashboard": edited, "folderUid": "deploy-monitor", "overwrite": True}
    )
    assert status == 200
    capsys.readouterr()
    writes = grafana.writes()

    assert _provision(config, "--check") == EXIT_FAIL
    out = capsys.readouterr().out
    assert "update    dashboard deploy-monitor-health" in out
    assert '-    "title": "Edited by hand"' in out  # the diff shows Grafana's value going away
    assert _provision(config, "--dry-run") == EXIT_PASS
    assert grafana.writes() == writes

    assert _provision(config) == EXIT_PASS  # restores the repository's version as a new version
    assert grafana.dashboards["deploy-monitor-health"]["title"] != "Edited by hand"
    assert len(grafana.dashboard_versions("deploy-monitor-health")) == 3
    assert grafana.violations == []


def test_a_rerun_recreates_a_folder_that_disappeared(grafana: Any, tmp_path: Path) -> None:
    config = _config(tmp_path, grafana.url, ADMIN_TOKEN, pager=False)
    assert _provision(config) == EXIT_PASS
    assert grafana.api("DELETE", "/api/folders/deploy-monitor?forceDeleteRules=true")[0] == 200
    assert grafana.dashboards == {} and grafana.alert_rules == {}
    assert _provision(config) == EXIT_PASS
    assert len(grafana.dashboards) == len(build_dashboards()) and len(grafana.alert_rules) == len(
        [r for g in load_rule_groups(RULES) for r in g.rules]
    )
    assert grafana.violations == []


def test_a_folder_deleted_during_provisioning_stops_it_with_a_message(grafana: Any) -> None:
    client, desired = _desired(grafana)
    apply(plan(client, desired))
    grafana.api("POST", "/api/dashboards/db", {"dashboard": {**grafana.dashboards["deploy-monitor-health"],
                "title": "x"}, "folderUid": "deploy-monitor", "overwrite": True})  # fmt: skip
    changes = plan(client, desired)  # the dashboard differs; the folder is there
    assert grafana.api("DELETE", "/api/folders/deploy-monitor?forceDeleteRules=true")[0] == 200
    with pytest.raises(GrafanaError, match="disappeared while provisioning; rerun"):
        apply(changes)
    assert grafana.violations == []


def test_a_concurrent_edit_answers_412_and_is_not_overwritten(grafana: Any) -> None:
    client, desired = _desired(grafana)
    apply(plan(client, desired))
    grafana.api("POST", "/api/dashboards/db", {"dashboard": {**grafana.dashboards["deploy-monitor-detail"],
                "title": "first edit"}, "folderUid": "deploy-monitor", "overwrite": True})  # fmt: skip
    changes = plan(client, desired)
    grafana.api("POST", "/api/dashboards/db", {"dashboard": {**grafana.dashboards["deploy-monitor-detail"],
                "title": "second edit"}, "folderUid": "deploy-monitor", "overwrite": True})  # fmt: skip
    with pytest.raises(GrafanaError, match=r"412.*changed by someone else"):
        apply(changes)
    assert grafana.dashboards["deploy-monitor-detail"]["title"] == "second edit"
    assert grafana.violations == []


def test_a_dashboard_uid_owned_by_someone_else_is_refused_before_any_write(grafana: Any) -> None:
    foreign = {"uid": "deploy-monitor-health", "title": "Team health", "tags": ["team"], "panels": []}
    assert grafana.api("POST", "/api/dashboards/db", {"dashboard": foreign})[0] == 200
    writes = grafana.writes()
    client, desired = _desired(grafana)
    with pytest.raises(GrafanaError, match="'Team health' and was not provisioned by the deploy monitor"):
        plan(client, desired)
    assert grafana.writes() == writes
    assert grafana.violations == []


@pytest.mark.parametrize("conflict_status", [409, 412])
def test_a_folder_created_meanwhile_is_adopted_only_if_it_is_ours(
    make_grafana: Any, conflict_status: int
) -> None:
    fake = make_grafana(folder_conflict_status=conflict_status)
    client, desired = _desired(fake)
    changes = plan(client, desired)
    fake.api("POST", "/api/folders", {"uid": "deploy-monitor", "title": "Deploy monitor"})
    apply(changes)  # the same folder: adopted
    assert len(fake.dashboards) == len(build_dashboards())

    other = make_grafana(folder_conflict_status=conflict_status)
    client, desired = _desired(other)
    changes = plan(client, desired)
    other.api("POST", "/api/folders", {"uid": "deploy-monitor", "title": "Payments team"})
    with pytest.raises(GrafanaError, match="folder uid 'deploy-monitor' is taken by 'Payments team'"):
        apply(changes)
    assert other.dashboards == {}
    assert fake.violations == [] and other.violations == []


def test_5xx_answers_are_retried(grafana: Any) -> None:
    grafana.fail_next("POST", "/api/dashboards/db", 503, times=2)
    grafana.fail_next("GET", "/api/folders/deploy-monitor", 502)
    client, desired = _desired(grafana)
    apply(plan(client, desired))
    assert len(grafana.dashboards) == len(build_dashboards())
    grafana.fail_next("GET", "/api/health", 500, times=10)
    with pytest.raises(GrafanaError, match=r"did not answer .*HTTP 500.* after 4 attempts"):
        plan(client, desired)


def test_a_token_without_rights_and_a_bad_token_get_actionable_errors(
    grafana: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provision(_config(tmp_path, grafana.url, VIEWER_TOKEN, pager=False)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "HTTP 403" in err and "lacks a permission" in err
    assert "applied before the error: nothing" in err and "not applied: folder deploy-monitor" in err

    assert _provision(_config(tmp_path, grafana.url, "not-a-token-at-all", pager=False)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "rejected the token" in err
    assert "not-a-token-at-all" not in err
    assert grafana.writes() == 0
    assert grafana.violations == []


class _NotGrafana(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def not_grafana() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_url_that_is_not_grafana_is_refused(
    not_grafana: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provision(_config(tmp_path, not_grafana, ADMIN_TOKEN, pager=False)) == EXIT_ERROR
    assert "does not look like Grafana" in capsys.readouterr().err


def test_no_grafana_configured_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("environment: production\n")
    assert _provision(config) == EXIT_ERROR
    assert "add a grafana: section" in capsys.readouterr().err


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's Grafana client retries without waiting (the attempts are the same)."""
    monkeypatch.setattr(provision_command, "Grafana", functools.partial(Grafana, sleep=lambda _: None))


def _plan_lines(out: str) -> list[str]:
    """The plan as printed: everything after the first line (which says what it compared with)."""
    return out.splitlines()[1:]


def test_a_dry_run_against_an_unreachable_grafana_shows_what_an_empty_grafana_gets(
    grafana: Any,
    closed_port_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_retry_waits: None,
) -> None:
    """The plan without Grafana is exactly the plan against an empty Grafana (the fake), diffs included."""
    assert _provision(_config(tmp_path, closed_port_url, ADMIN_TOKEN), "--dry-run") == EXIT_PASS
    offline = capsys.readouterr().out
    first = offline.splitlines()[0]
    assert first.startswith(f"Grafana was not reached: GET /api/health: Grafana at {closed_port_url} did not")
    assert "Connection refused" in first and "assumes an empty Grafana" in first

    assert _provision(_config(tmp_path, grafana.url, ADMIN_TOKEN), "--dry-run") == EXIT_PASS
    online = capsys.readouterr().out
    assert (
        online.splitlines()[0]
        == f"Grafana {grafana.url}: comparing folder 'deploy-monitor' with this repository"
    )
    assert _plan_lines(offline) == _plan_lines(online)
    kinds = {line.split()[1] for line in _plan_lines(offline) if line.startswith("create ")}
    assert kinds == {
        "folder",
        "datasource",
        "dashboard",
        "rule-group",
        "contact-point",
        "notification-policy",
    }
    assert "unchanged" not in offline and "update " not in offline
    assert PD_KEY not in offline
    assert grafana.writes() == 0
    assert grafana.violations == []


def test_a_dry_run_with_no_grafana_configured_plans_every_object_as_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("environment: production\n")
    assert _provision(config, "--dry-run") == EXIT_PASS
    out = capsys.readouterr().out
    assert out.startswith("no Grafana configured: the plan below assumes an empty Grafana")
    assert "add a grafana: section" in out.splitlines()[0]
    kinds = (["folder"], ["dashboard"], ["rule-group"])
    actions = [line.split()[0] for line in out.splitlines() if line.split()[1:2] in kinds]
    groups = load_rule_groups(RULES)
    assert actions == ["create"] * (1 + len(build_dashboards()) + len(groups))
    # An empty Grafana has no default Prometheus: the rules' data source is shown as to be set.
    assert "the alert rules' data source reads <set grafana.datasource or --datasource-uid>" in out
    assert '"datasourceUid": "<set grafana.datasource or --datasource-uid>"' in out
    objects = 1 + len(build_dashboards()) + len(groups)  # the folder, the dashboards, the rule groups
    assert f"{objects} of {objects} objects differ" in out


def test_check_still_needs_a_grafana_that_answers(
    closed_port_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_retry_waits: None
) -> None:
    """Only --dry-run assumes an empty Grafana: --check (a CI drift check) errors when none answers."""
    assert _provision(_config(tmp_path, closed_port_url, ADMIN_TOKEN), "--check") == EXIT_ERROR
    assert "did not answer" in capsys.readouterr().err


def test_the_plan_against_an_empty_grafana_carries_no_write() -> None:
    spec = GrafanaSpec(url="", token="")
    changes = plan_against_empty(Desired(spec, build_dashboards(), load_rule_groups(RULES)))
    assert {change.action for change in changes} == {"create"}
    assert all(change.write is None for change in changes)
    assert apply(changes) == []


def test_the_rules_as_provisioned_run_on_a_real_prometheus(prometheus: SimulatedPrometheus) -> None:
    """Grafana evaluates each rule's query A on the data source: it must parse and run in Prometheus."""
    for group in load_rule_groups(RULES):
        body = grafana_rule_group(group, "deploy-monitor", "prometheus")
        for rule in body["rules"]:
            expr = rule["data"][0]["model"]["expr"]
            query = urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(f"{prometheus.url}/api/v1/query?{query}", timeout=10) as response:
                answer = json.loads(response.read())
            assert answer["status"] == "success", (rule["title"], answer)
            # "(<expr>) * 0 + 1": every series the Prometheus rule returns reads 1, so "> 0" fires for it.
            assert all(float(r["value"][1]) == 1.0 for r in answer["data"]["result"])

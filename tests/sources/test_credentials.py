"""Authenticated telemetry backends: credentials from the config file, sent with every request, shown nowhere.

Basic auth is checked by a real Prometheus, started here with ``--web.config.file`` (its users' bcrypt
hashes). Prometheus has no bearer tokens of its own: a reverse proxy in front of it checks them, so the
bearer tests put :class:`fakes.guarded.AuthenticatingProxy` in front of the session's real Prometheus.
No Loki, Tempo or Jaeger can run here: :class:`fakes.guarded.GuardedTelemetry` answers their APIs and
refuses a request without the expected headers.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import bcrypt
import pytest
from fakes.guarded import LOG_LINE, SERVICE, TRACE_ID, VERSION, AuthenticatingProxy, GuardedTelemetry
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from monitor.config import load_settings
from monitor.errors import BackendUnavailable, ConfigError, InputError, QueryError
from monitor.otlp.decode import decode_document
from monitor.simulate import SimulatedPrometheus, SimulatedRun
from monitor.simulate.prometheus import PrometheusProcess, simulate_into_prometheus
from monitor.simulate.scenario import Scenario
from monitor.sources.connect import loki_source, prometheus_source, trace_source
from monitor.sources.credentials import Credentials, Endpoint
from monitor.sources.jaeger import JaegerSource
from monitor.sources.loki import LokiSource
from monitor.sources.prometheus import PrometheusSource
from monitor.sources.tempo import TempoSource
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus

USER, PASSWORD = "monitor", "p@ss:w/rd-4711"  # reserved characters: the URL form must encode them
TOKEN = "prom-bearer-0f3c9a"
QUERY = 'sum(http_server_request_duration_seconds_count{service_name="aa"})'


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class GuardedPrometheus:
    url: str
    run: SimulatedRun


@pytest.fixture(scope="module")
def guarded_prometheus(
    tmp_path_factory: pytest.TempPathFactory, scenarios: tuple[Scenario, ...]
) -> Iterator[GuardedPrometheus]:
    """A real Prometheus holding scenario ``aa`` that answers only user ``monitor`` with PASSWORD."""
    workdir = tmp_path_factory.mktemp("guarded-prometheus")
    unguarded, runs = simulate_into_prometheus([s for s in scenarios if s.name == "aa"], workdir)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()  # cheap: a test
    process = PrometheusProcess(
        unguarded.data_dir,
        workdir=workdir,
        web_config_yaml=f"basic_auth_users:\n  {USER}: '{hashed}'\n",
        ready_headers={"Authorization": _basic(USER, PASSWORD)},
    )
    with process:
        yield GuardedPrometheus(process.url, runs["aa"])


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def _read_through(source: PrometheusSource, run: SimulatedRun) -> tuple[float, list[str]]:
    """A query's value and the versions prometheus-api-client lists: both request paths."""
    try:
        [sample] = await source.instant(QUERY, run.canary_window.end)
        versions = await source.label_values("service_version", '{service_name="aa"}', run.canary_window)
    finally:
        await source.close()
    return sample.value, versions


async def test_basic_auth_from_the_config_file_opens_a_real_prometheus(
    guarded_prometheus: GuardedPrometheus, tmp_path: Path
) -> None:
    (tmp_path / "prom-password").write_text(PASSWORD + "\n", encoding="utf-8")
    config = _config(
        tmp_path,
        f"prometheus:\n  url: {guarded_prometheus.url}\n"
        f"  basic_auth: {{username: {USER}, password_file: prom-password}}\n",  # relative to the file
    )
    settings = load_settings(config, environ={})
    assert PASSWORD not in repr(settings)

    value, versions = await _read_through(prometheus_source(settings), guarded_prometheus.run)
    assert value > 0
    assert {
        guarded_prometheus.run.scenario.canary_version,
        guarded_prometheus.run.scenario.baseline_version,
    } <= set(versions)

    anonymous = PrometheusSource(guarded_prometheus.url, max_attempts=1)
    with pytest.raises(BackendUnavailable, match=r"refused the credentials \(HTTP 401\).*basic_auth"):
        await _read_through(anonymous, guarded_prometheus.run)


async def test_user_info_in_the_url_is_basic_auth_and_never_shown(
    guarded_prometheus: GuardedPrometheus,
) -> None:
    host = guarded_prometheus.url.removeprefix("http://")
    url = f"http://{USER}:{quote(PASSWORD, safe='')}@{host}"
    # What aiohttp does with user info by itself: basic auth (so such URLs kept working as they were).
    async with aiohttp.ClientSession() as session, session.get(f"{url}/api/v1/status/buildinfo") as answer:
        assert answer.status == 200

    source = PrometheusSource(url)
    assert source.url == f"http://{USER}:***@{host}"
    value, versions = await _read_through(source, guarded_prometheus.run)
    assert value > 0 and guarded_prometheus.run.scenario.canary_version in versions

    wrong = PrometheusSource(f"http://{USER}:not-the-password@{host}", max_attempts=1)
    with pytest.raises(BackendUnavailable) as refused:
        await _read_through(wrong, guarded_prometheus.run)
    assert "HTTP 401" in str(refused.value) and "not-the-password" not in str(refused.value)

    configured = Credentials(bearer_token=TOKEN, origin="prometheus.bearer_token_file")
    with pytest.raises(InputError, match=r"prometheus\.bearer_token_file") as both:
        PrometheusSource(url, credentials=configured)
    assert PASSWORD not in str(both.value) and quote(PASSWORD, safe="") not in str(both.value)


async def test_a_bearer_token_and_headers_pass_an_authenticating_proxy(
    prometheus: SimulatedPrometheus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    required = {"Authorization": f"Bearer {TOKEN}", "X-Scope-OrgID": "team-a"}
    with AuthenticatingProxy(prometheus.url, required) as proxy:
        monkeypatch.setenv("PROMETHEUS_TOKEN", TOKEN)
        config = _config(
            tmp_path,
            f"prometheus:\n  url: {proxy.url}\n  bearer_token_env: PROMETHEUS_TOKEN\n"
            "  headers: {X-Scope-OrgID: team-a}\n",
        )
        settings = load_settings(config, environ={})
        value, versions = await _read_through(prometheus_source(settings), prometheus.runs["aa"])
        assert value > 0 and prometheus.runs["aa"].scenario.canary_version in versions
        seen = proxy.requests
        assert {r.path for r in seen} >= {"/api/v1/query", "/api/v1/label/service_version/values"}
        assert all(r.headers == required for r in seen)  # aiohttp's requests and requests' alike

        monkeypatch.setenv("PROMETHEUS_TOKEN", "revoked-token-123")
        revoked = prometheus_source(load_settings(config, environ={}))
        with pytest.raises(BackendUnavailable, match=r"prometheus\.bearer_token_env") as refused:
            await _read_through(revoked, prometheus.runs["aa"])
        assert "revoked-token-123" not in str(refused.value)


@pytest.fixture
def telemetry() -> Iterator[dict[str, GuardedTelemetry]]:
    """Loki wanting a bearer token and a tenant, Tempo basic auth, Jaeger another bearer token."""
    backends = {
        "loki": GuardedTelemetry({"Authorization": "Bearer loki-token-1", "X-Scope-OrgID": "team-a"}),
        "tempo": GuardedTelemetry({"Authorization": _basic("tempo", "tempo-password")}),
        "jaeger": GuardedTelemetry({"Authorization": "Bearer jaeger-token-2"}),
    }
    for backend in backends.values():
        backend.start()
    yield backends
    for backend in backends.values():
        backend.stop()


async def test_loki_tempo_and_jaeger_send_their_configured_credentials(
    telemetry: dict[str, GuardedTelemetry],
    guarded_prometheus: GuardedPrometheus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "loki-token").write_text("loki-token-1", encoding="utf-8")
    (tmp_path / "tempo-password").write_text("tempo-password", encoding="utf-8")
    monkeypatch.setenv("JAEGER_TOKEN", "jaeger-token-2")
    config = _config(
        tmp_path,
        f"loki: {{url: {telemetry['loki'].url}, bearer_token_file: loki-token, "
        "headers: {X-Scope-OrgID: team-a}}\n"
        f"tempo:\n  url: {telemetry['tempo'].url}\n"
        "  basic_auth: {username: tempo, password_file: tempo-password}\n"
        f"jaeger: {{url: {telemetry['jaeger'].url}, bearer_token_env: JAEGER_TOKEN}}\n",
    )
    settings = load_settings(config, environ={})
    for secret in ("loki-token-1", "tempo-password", "jaeger-token-2"):
        assert secret not in repr(settings)
    window = guarded_prometheus.run.canary_window

    loki = loki_source(settings)
    assert loki is not None
    assert [line for _, line, _ in await loki.lines(SERVICE, VERSION, window)] == [LOG_LINE]

    with pytest.raises(InputError, match=r"tempo\.url and jaeger\.url"):
        trace_source(settings)  # traces come from one backend
    tempo = trace_source(settings, tempo_url=telemetry["tempo"].url)
    jaeger = trace_source(settings, jaeger_url=telemetry["jaeger"].url)
    assert isinstance(tempo, TempoSource) and isinstance(jaeger, JaegerSource)
    for traces in (tempo, jaeger):
        [document] = await traces.traces(SERVICE, VERSION, window)
        request = decode_document(document, ExportTraceServiceRequest())
        spans = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
        assert [s.trace_id.hex() for s in spans] == [TRACE_ID]
    for backend in telemetry.values():
        assert backend.requests and all(r.headers == backend.required for r in backend.requests)

    with pytest.raises(QueryError, match=r"refused the credentials \(401\)"):
        await LokiSource(telemetry["loki"].url, tenant="team-a").lines(SERVICE, VERSION, window)
    with pytest.raises(QueryError, match=r"refused the credentials \(401\)"):
        await TempoSource(telemetry["tempo"].url).traces(SERVICE, VERSION, window)


@pytest.mark.parametrize(
    ("section", "files", "expected"),
    [
        (
            "prometheus:\n  bearer_token_file: token\n  basic_auth: {username: u, password_file: token}\n",
            {"token": "secret-value"},
            "field 'prometheus.basic_auth': both a bearer token and basic_auth are set",
        ),
        ("loki: {bearer_token_file: missing-token}\n", {}, "field 'loki.bearer_token_file': cannot read"),
        (
            "tempo: {bearer_token_file: token, bearer_token_env: TOKEN}\n",
            {"token": "secret-value"},
            "field 'tempo.bearer_token_env': both bearer_token_file and bearer_token_env are set",
        ),
        (
            "jaeger: {bearer_token_file: token}\n",
            {"token": "\n"},
            "field 'jaeger.bearer_token_file': token is empty",
        ),
        ("prometheus: {basic_auth: {username: u}}\n", {}, "field 'prometheus.basic_auth': no password"),
        (
            "prometheus: {basic_auth: {password_file: p}}\n",
            {},
            "field 'prometheus.basic_auth.username': missing",
        ),
        (
            "loki: {headers: {Authorization: Bearer x}}\n",
            {},
            "field 'loki.headers.Authorization': header Authorization is set by the monitor",
        ),
        ('loki: {headers: {X-Scope-OrgID: "a\\r\\nX-Evil: 1"}}\n', {}, "holds a control character"),
        (
            "prometheus: {bearer_token_file: token}\n",
            {"token": "secret-\x01value"},
            "field 'prometheus.bearer_token_file': the bearer token holds a control character; "
            "write it on one line",
        ),
        (
            "loki: {basic_auth: {username: 'a:b', password_file: p}}\n",
            {"p": "secret-value"},
            "field 'loki.basic_auth': the user name 'a:b' may not hold ':' or control characters; "
            "fix the value",
        ),
        (
            "prometheus: {url: 'http://admin:hunter22@prometheus:9090'}\n",
            {},
            "field 'prometheus.url': http://admin:***@prometheus:9090 holds a user name or password",
        ),
        ("tempo: {url: 'tempo:3200'}\n", {}, "field 'tempo.url': expected an http:// or https:// URL"),
        ("jaeger: {url: http://jaeger, token_file: x}\n", {}, "field 'jaeger.token_file': unknown field"),
    ],
)
def test_config_errors_name_the_field_and_file(
    tmp_path: Path, section: str, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = _config(tmp_path, section)
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    message = str(error.value)
    assert message.startswith(f"{config}:") and expected in message
    assert "secret-value" not in message and "hunter22" not in message
    if "missing-token" in section:
        assert str(tmp_path / "missing-token") in message  # the file it could not read


def test_credential_and_url_errors_carry_their_problem_and_fix_as_fields() -> None:
    with pytest.raises(InputError) as both:
        Credentials(bearer_token="t", username="u", origin="loki.basic_auth")
    assert str(both.value) == "loki.basic_auth: a bearer token and basic auth are both set; keep one"
    assert (both.value.problem, both.value.fix) == ("a bearer token and basic auth are both set", "keep one")
    with pytest.raises(InputError) as scheme:
        Endpoint.parse("ftp://ci:hunter22@host/")
    assert scheme.value.problem == "the URL 'ftp://ci:***@host' is not an http:// or https:// URL"
    assert scheme.value.fix == "write e.g. http://host:9090"
    assert str(scheme.value) == f"{scheme.value.problem}; {scheme.value.fix}"


def test_flags_and_variables_override_the_files_urls_and_keep_its_credentials(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("the-token-value", encoding="utf-8")
    config = _config(tmp_path, "prometheus: {url: 'http://a:9090', bearer_token_file: token}\n")
    settings = load_settings(config, environ={"MONITOR_PROMETHEUS_URL": "http://b:9090"})
    assert settings.prometheus_url == "http://b:9090"
    source = prometheus_source(settings, "http://c:9090")
    assert source.url == "http://c:9090"
    assert settings.sources.prometheus.credentials.http_headers() == {
        "Authorization": "Bearer the-token-value"
    }
    with pytest.raises(InputError, match=r"no Prometheus URL.*prometheus\.url"):
        prometheus_source(load_settings(None, environ={}))


async def test_an_unreachable_source_names_its_url_without_secrets() -> None:
    source = PrometheusSource(
        "http://monitor:hunter22@127.0.0.1:9/prom?token=t0ken-value&x=1",
        credentials=Credentials(headers=(("X-Scope-OrgID", "team-a"),)),
        max_attempts=1,
    )
    with pytest.raises(BackendUnavailable) as down:
        await source.instant("vector(1)", datetime.now(UTC))
    await source.close()
    message = str(down.value)
    assert "http://monitor:***@127.0.0.1:9/prom?token=***&x=1" in message
    assert "hunter22" not in message and "t0ken-value" not in message
    assert "hunter22" not in repr(source.__dict__) and "t0ken-value" not in repr(source.__dict__)


def test_monitor_analyze_reads_a_guarded_prometheus_with_the_configs_credentials(
    guarded_prometheus: GuardedPrometheus, tmp_path: Path
) -> None:
    (tmp_path / "prom-password").write_text(PASSWORD, encoding="utf-8")
    config = _config(
        tmp_path,
        f"prometheus:\n  url: {guarded_prometheus.url}\n"
        f"  basic_auth: {{username: {USER}, password_file: prom-password}}\n",
    )
    run = guarded_prometheus.run
    argv = [
        sys.executable, "-m", "monitor", "analyze", "--service", "aa",
        "--canary-version", run.scenario.canary_version, "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    with_credentials = subprocess.run(
        [*argv, "--config", str(config)], capture_output=True, text=True, env=env
    )
    assert with_credentials.returncode == 0, with_credentials.stderr  # the A/A run passes
    assert "PASS" in with_credentials.stdout
    without = subprocess.run(
        [*argv, "--prometheus-url", guarded_prometheus.url], capture_output=True, text=True, env=env
    )
    assert without.returncode == 3 and "401" in without.stdout + without.stderr
    assert PASSWORD not in with_credentials.stdout + with_credentials.stderr

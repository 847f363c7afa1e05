"""``monitor analyze --probe`` against a real Prometheus and a local HTTP server that fails on command."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest
from probe_server import Target

from monitor.checks.kind import Look
from monitor.checks.probes import LatencyData, ProbeLatency
from monitor.cli import main
from monitor.commands.analyze import probes_from_args
from monitor.config import Settings, load_settings
from monitor.errors import InputError, MonitorError
from monitor.profiles import CheckSpec
from monitor.simulate import SimulatedPrometheus
from monitor.timeparse import format_time


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return path


def _args(prom: SimulatedPrometheus, config: Path, *extra: str) -> list[str]:
    run = prom.runs["aa"]  # a healthy canary: only its probes can fail it
    return [
        "analyze", "--prometheus-url", prom.url, "--config", str(config), "--service", "aa",
        "--canary-version", run.scenario.canary_version, "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end), *extra,
    ]  # fmt: skip


def _probe(name: str, url: str, **fields: object) -> str:
    extra = "".join(f", {key}: {json.dumps(value)}" for key, value in fields.items())
    return f"  - {{name: {name}, url: '{url}', interval_s: 0{extra}}}\n"


async def test_a_failing_probe_fails_the_verdict_with_its_evidence(
    prometheus: SimulatedPrometheus, target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, "probes:\n" + _probe("health", target.url("/status/500"), count=3))
    code = await asyncio.to_thread(main, _args(prometheus, config, "--probe", "health"))
    out, err = capsys.readouterr()
    assert code == 1, out
    assert out.startswith("verdict: FAIL")
    assert "probe health failed 3 attempts in a row (fail_after 3): last status 500 in " in out
    assert "probe_health      high    yes" in out
    # Each failed attempt is a line of evidence: its address, answer, assertion and the body's head.
    evidence = [line for line in out.splitlines() if line.startswith("    canary ")]
    assert len(evidence) == 3, out
    for line in evidence:
        assert f": {target.url('/status/500')}: status 500 in " in line
        assert line.endswith(": status 500, expected 200; body: boom: database unavailable")
    for attempt in (1, 2, 3):
        assert f"probe health: attempt {attempt} of 3: status 500 in " in err
    # The verdict document keeps each failed attempt: its address, answer and the body's first bytes.
    code = await asyncio.to_thread(main, _args(prometheus, config, "--probe", "health", "--output", "json"))
    document = json.loads(capsys.readouterr().out)
    assert (code, document["verdict"]) == (1, "fail")
    (check,) = [c for c in document["checks"] if c["name"] == "probe_health"]
    details = [e["detail"] for e in check["evidence"]]
    assert len(details) == 3
    assert all(f"{target.url('/status/500')}: status 500 in " in d for d in details), details
    assert all(d.endswith("status 500, expected 200; body: boom: database unavailable") for d in details)


async def test_a_healthy_probe_passes_beside_the_metrics(
    prometheus: SimulatedPrometheus, target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path, "probes:\n" + _probe("health", target.url("/ok"), json_equals={"status": "ok"}, count=4)
    )
    code = await asyncio.to_thread(main, _args(prometheus, config, "--probe", "all", "--output", "json"))
    document = json.loads(capsys.readouterr().out)
    assert (code, document["verdict"]) == (0, "pass"), document["summary"]
    checks = {c["name"]: c for c in document["checks"]}
    assert checks["probe_health"]["classification"] == "pass"
    assert "answered as expected in 4 of 4 attempts" in checks["probe_health"]["message"]
    assert "http_error_ratio" in checks  # the profile's checks are judged as without probes
    assert "probe_health_latency" not in checks  # one address for both versions: nothing to compare


async def test_a_probe_of_each_version_compares_their_answer_times(
    prometheus: SimulatedPrometheus, target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = target.url("/ok") + "?version={version}"  # each version at its own address
    config = _config(tmp_path, "probes:\n" + _probe("health", url, count=6, latency_allowed_effect=9))
    code = await asyncio.to_thread(main, _args(prometheus, config, "--probe", "health", "--output", "json"))
    out, err = capsys.readouterr()
    assert "probe health (baseline): attempt 6 of 6: status 200 in " in err
    assert "probe health: attempt 6 of 6: status 200 in " in err
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    latency = checks["probe_health_latency"]
    # Six answers of one local server each: the same distribution, so no slowdown of 10x is found.
    assert latency["classification"] == "pass", latency["message"]
    assert (code, checks["probe_health"]["classification"]) == (0, "pass")


async def test_an_optional_probe_check_that_errors_is_a_warning_not_the_exit_code(
    prometheus: SimulatedPrometheus,
    target: Target,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: ProbeLatency, spec: CheckSpec, look: Look) -> LatencyData:
        raise MonitorError("the attempts could not be read")

    monkeypatch.setattr(ProbeLatency, "fetch", broken)
    url = target.url("/ok") + "?version={version}"
    config = _config(tmp_path, "probes:\n" + _probe("health", url, count=5))
    code = await asyncio.to_thread(main, _args(prometheus, config, "--probe", "health", "--output", "json"))
    out, err = capsys.readouterr()
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["probe_health_latency"]["classification"] == "error"
    # The added latency comparison is optional: its error is a warning and never makes exit 3.
    assert "monitor: warning: probe_health_latency: the attempts could not be read" in err
    assert "monitor: error:" not in err
    assert code == 0, out


def _settings(tmp_path: Path, text: str) -> Settings:
    return load_settings(_config(tmp_path, text), environ={})


def _given(*probes: str, service: str = "checkout") -> argparse.Namespace:
    return argparse.Namespace(probe=list(probes), service=service, canary_version="v2", baseline_version="v1")


def test_probe_arguments_name_configured_probes_all_or_urls(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "environment: production\nprobes:\n"
        "  - {name: health, url: 'https://checkout.example.com/healthz', services: [checkout]}\n"
        "  - {name: staging-only, url: 'https://s.example.com/', environments: [staging]}\n"
        "  - {name: cart, url: 'https://cart.example.com/', services: [cart]}\n",
    )
    assert [p.name for p in probes_from_args(_given("all"), settings)] == ["health"]
    assert [p.name for p in probes_from_args(_given("cart", "health", "all"), settings)] == ["cart", "health"]
    first, second = probes_from_args(
        _given("https://a.example.com/x?v={version}", "http://b:8080/"), settings
    )
    assert (first.name, second.name) == ("smoke-1", "smoke-2")
    # 5 attempts: the 5 answers a side the latency comparison needs; failing still at 3 in a row.
    assert (first.count, first.interval_s, first.fail_after) == (5, 10.0, 3)
    assert first.allowed_hosts() == {"a.example.com"} and second.allowed_hosts() == {"b"}
    assert probes_from_args(_given(), settings) == ()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "helth",
            "--probe helth: no such probe (configured: health, cart); name one, 'all', or an http(s) URL",
        ),
        (
            "https://{service}.example.com/",
            "--probe https://{service}.example.com/: the URL's host is templated",
        ),
        (
            "https://a.example.com/{tenant}",
            "unknown placeholder {tenant}; use {service}, {version} or {environment}",
        ),
        ("ftp://a.example.com/", "--probe ftp://a.example.com/: invalid 'ftp://a.example.com/'"),
        (
            "https://a.example.com/{version!r}",
            "--probe https://a.example.com/{version!r}: placeholder {version!r} has a format spec, "
            "conversion or index; write {version}",
        ),
        ("https://a.example.com/{version", "a lone '{'; write {{ for a literal brace"),
        (
            "http://[oops/x?token=typed-token-77",
            "--probe http://[oops/x?token=***: 'http://[oops/x?token=***' cannot be parsed as a URL; "
            "write scheme://host[:port]/path",
        ),
        ("http://a.example.com:99999/", "'http://a.example.com:99999/' cannot be parsed as a URL"),
        ("ftp://a.example.com/?token=typed-token-77", "--probe ftp://a.example.com/?token=***: invalid"),
    ],
)
def test_a_wrong_probe_argument_says_what_to_write(tmp_path: Path, given: str, message: str) -> None:
    settings = _settings(
        tmp_path,
        "probes:\n  - {name: health, url: 'https://h.example.com/'}\n"
        "  - {name: cart, url: 'https://c.example.com/', services: [cart]}\n",
    )
    with pytest.raises(
        InputError,
    ) as caught:
        probes_from_args(_given(given), settings)
    assert message in str(caught.value)
    assert "typed-token-77" not in str(caught.value)


def test_an_inline_probe_never_takes_a_configured_probe_s_name(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "probes:\n  - {name: smoke-1, url: 'https://one.example.com/'}\n"
        "  - {name: smoke_2, url: 'https://two.example.com/'}\n"
        "  - {name: smoke-3_latency, url: 'https://three.example.com/'}\n",
    )
    chosen = probes_from_args(_given("smoke-1", "https://a.example.com/", "https://b.example.com/"), settings)
    # smoke-2 would be check probe_smoke_2 as smoke_2 is, and smoke-3's latency check smoke-3_latency's.
    assert [(p.name, p.url) for p in chosen] == [
        ("smoke-1", "https://one.example.com/"),
        ("smoke-4", "https://a.example.com/"),
        ("smoke-5", "https://b.example.com/"),
    ]


def test_all_with_no_probe_for_the_service_is_an_error(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, "probes:\n  - {name: cart, url: 'https://c.example.com/', services: [cart]}\n"
    )
    with pytest.raises(InputError, match="--probe all: no configured probe applies to checkout"):
        probes_from_args(_given("all"), settings)


def test_all_leaves_out_a_probe_whose_url_names_a_host_it_does_not_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(
        tmp_path,
        "probes:\n"
        "  - {name: health, url: 'https://{service}.example.com/', hosts: [checkout.example.com]}\n"
        "  - {name: status, url: 'https://status.example.com/{service}'}\n",
    )
    assert [p.name for p in probes_from_args(_given("all"), settings)] == ["health", "status"]
    assert capsys.readouterr().err == ""
    # For search, health's URL names search.example.com: every attempt would be refused.
    assert [p.name for p in probes_from_args(_given("all", service="search"), settings)] == ["status"]
    assert capsys.readouterr().err == (
        "monitor: warning: --probe all: probe 'health' left out: its URL names host "
        "'search.example.com' for search version v2, which its hosts do not list; add the host to its "
        "hosts in the config, or narrow its services\n"
    )
    only_health = _settings(
        tmp_path,
        "probes:\n  - {name: health, url: 'https://{service}.example.com/', hosts: [checkout.example.com]}\n",
    )
    with pytest.raises(
        InputError, match=r"no configured probe applies to search \(the ones in scope are left"
    ):
        probes_from_args(_given("all", service="search"), only_health)
    assert "probe 'health' left out" in capsys.readouterr().err


def test_an_unknown_probe_exits_3_before_any_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "s", "--canary-version", "v2",
        "--baseline-version", "v1", "--start", "1700000000", "--end", "1700000600", "--probe", "nope",
    ]  # fmt: skip
    assert main(args) == 3
    assert (
        "monitor: error: --probe nope: no such probe (configured: none configured)" in capsys.readouterr().err
    )


def test_a_probe_url_that_cannot_be_parsed_exits_3_before_any_attempt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "s", "--canary-version", "v2",
        "--baseline-version", "v1", "--start", "1700000000", "--end", "1700000600",
        "--probe", "http://[oops/x",
    ]  # fmt: skip
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err == (
        "monitor: error: --probe http://[oops/x: 'http://[oops/x' cannot be parsed as a URL; write "
        "scheme://host[:port]/path, the host in [] only when an IPv6 address\n"
    )  # one line, and no attempt was made (no progress line)

"""``probes:`` in the config file: ProbeSpecs, header secrets from files, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.probes.spec import ProbeSpec


def _load(tmp_path: Path, text: str) -> tuple[ProbeSpec, ...]:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return load_settings(path, environ={}).probes


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return str(caught.value).removeprefix(f"{tmp_path}/")


def test_a_probe_is_read_with_its_header_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "probe-token").write_text("Bearer pr0be-secret\n")
    probes = _load(
        tmp_path,
        "probes:\n"
        "  - name: health\n"
        "    url: https://{service}.{environment}.example.com/healthz?v={version}\n"
        "    hosts: [cart.production.example.com]\n"
        "    headers: [{name: Authorization, value_file: probe-token}]\n"
        "    expect_status: [200, 204]\n"
        "    json_equals: {status: ok, items.0.id: 7, ready: true}\n"
        "    json_exists: [version]\n"
        "    max_latency_s: 0.5\n"
        "    count: 6\n"
        "  - {name: home, url: 'http://127.0.0.1:8080/', body_contains: Welcome, fail_after: 1}\n",
    )
    health, home = probes
    assert health.headers == (("Authorization", "Bearer pr0be-secret"),)
    assert "pr0be" not in repr(health)
    assert health.expected_status == (200, 204) and health.count == 6 and health.fail_after == 3
    assert health.json_equals == (("status", "ok"), ("items.0.id", 7), ("ready", True))
    assert health.allowed_hosts() == {"cart.production.example.com"}
    assert health.render("cart", "2", "production").startswith("https://cart.production.example.com/")
    assert home.expected_status == (200,) and home.timeout_s == 5.0 and home.fail_after == 1
    assert home.allowed_hosts() == {"127.0.0.1"}


def test_no_probes_section_is_no_probes(tmp_path: Path) -> None:
    assert _load(tmp_path, "settle_s: 30\n") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "probes:\n  - {name: a, url: 'http://x/', count: 2, fail_after: 3}\n",
            "monitor.yaml:2: field 'probes[0].fail_after': fail_after 3 is more than count 2; "
            "lower fail_after or raise count",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/{tenant}'}\n",
            "monitor.yaml:2: field 'probes[0].url': unknown placeholder {tenant}; "
            "use {service}, {version} or {environment}",
        ),
        (
            "probes:\n  - {name: a, url: 'http://{service}.svc/'}\n",
            "monitor.yaml:2: field 'probes[0].hosts': the URL's host is templated; "
            "list the hosts it may name in hosts: [...]",
        ),
        (
            "probes:\n  - {name: a, url: 'ftp://x/'}\n",
            "monitor.yaml:2: field 'probes[0].url': invalid 'ftp://x/'; use an http:// or https:// URL",
        ),
        (
            "probes:\n  - name: a\n    url: http://x/\n    expect_status: 99\n",
            "monitor.yaml:4: field 'probes[0]",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/', headers: [{name: X-Key}]}\n",
            "field 'probes[0].headers[0]': no secret; set value_file (a file holding the secret) "
            "or value_env",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/'}\n  - {name: a, url: 'http://y/'}\n",
            "monitor.yaml:3: field 'probes[1].name': a second probe named 'a'; give each a new name",
        ),
    ],
)
def test_an_invalid_probe_names_line_field_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)

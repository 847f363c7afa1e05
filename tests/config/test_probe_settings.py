"""probes: rules beyond the shape (names, check names, applicability) and probe_hosts, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.probes.hosts import host_allowed


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return load_settings(path, environ={})


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return str(caught.value).removeprefix(f"{tmp_path}/")


def test_a_probe_reads_critical_effect_and_where_it_applies(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "probe_hosts: [checkout.example.com, '*.preview.example.com']\n"
        "probes:\n"
        "  - name: health\n"
        "    url: https://checkout.example.com/healthz\n"
        "    critical: false\n"
        "    latency_allowed_effect: 0.5\n"
        "    services: [checkout]\n"
        "    environments: [production]\n"
        "  - {name: home-page, url: 'https://shop.example.com/'}\n",
    )
    health, home = settings.probes
    assert health.critical is False and health.latency_allowed_effect == 0.5
    assert health.applies_to("checkout", "production") and not health.applies_to("checkout", "staging")
    assert not health.applies_to("cart", "production")
    assert home.critical is True and home.latency_allowed_effect == 0.25
    assert home.applies_to("cart", None)
    assert settings.probe_hosts == ("checkout.example.com", "*.preview.example.com")
    assert host_allowed("green.preview.example.com", settings.probe_hosts)
    assert not host_allowed("shop.example.com", settings.probe_hosts)


def test_no_probe_hosts_allow_nothing(tmp_path: Path) -> None:
    assert _load(tmp_path, "settle_s: 30\n").probe_hosts == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "probes:\n  - {name: Health, url: 'http://x/'}\n",
            "monitor.yaml:2: field 'probes[0].name': invalid 'Health'; write lower-case letters, digits, "
            "- and _, starting with a letter, e.g. health",
        ),
        (
            "probes:\n  - {name: 1st, url: 'http://x/'}\n",
            "monitor.yaml:2: field 'probes[0].name': invalid '1st'",
        ),
        (
            "probes:\n  - {name: a-b, url: 'http://x/'}\n  - {name: a_b, url: 'http://y/'}\n",
            "monitor.yaml:3: field 'probes[1].name': 'a_b' and 'a-b' both make check probe_a_b; "
            "rename 'a_b': names must differ in more than - and _, and none may be another's name "
            "with _latency added",
        ),
        (
            "probes:\n  - {name: health, url: 'http://x/'}\n  - {name: health-latency, url: 'http://y/'}\n",
            "monitor.yaml:3: field 'probes[1].name': 'health-latency' and 'health' both make check "
            "probe_health_latency; rename 'health-latency'",
        ),
        (
            "probes:\n  - {name: health_latency, url: 'http://x/'}\n  - {name: health, url: 'http://y/'}\n",
            "field 'probes[1].name': 'health' and 'health_latency' both make check probe_health_latency",
        ),
        (
            "probes:\n  - name: a\n    url: http://x/\n    latency_allowed_effect: 11\n",
            "monitor.yaml:4: field 'probes[0].latency_allowed_effect': 11 is out of range; "
            "use a value in [0, 10]",
        ),
        (
            "probes:\n  - name: a\n    url: http://x/\n    services: checkout\n",
            "monitor.yaml:4: field 'probes[0].services'",
        ),
        (
            "probe_hosts:\n  - cart.example.com\n  - '*.com'\n",
            "monitor.yaml:3: field 'probe_hosts[1]': '*.com' allows every host under a top-level name; "
            "write a host name (cart.example.com) or *. and a domain (*.preview.example.com)",
        ),
        (
            "probe_hosts: ['preview-*.example.com']\n",
            "monitor.yaml:1: field 'probe_hosts[0]': 'preview-*.example.com' has a '*' "
            "that is not a leading '*.'",
        ),
        (
            "probe_hosts: ['https://cart.example.com']\n",
            "field 'probe_hosts[0]': 'https://cart.example.com' is not a host name",
        ),
        (
            "probes:\n  - name: a\n    url: 'http://x/{version:>999999999}'\n",
            "monitor.yaml:3: field 'probes[0].url': placeholder {version:>999999999} has a format spec, "
            "conversion or index; write {version}",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/{version!r}'}\n",
            "monitor.yaml:2: field 'probes[0].url': placeholder {version!r} has a format spec",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/{version:d}'}\n",
            "monitor.yaml:2: field 'probes[0].url': placeholder {version:d} has a format spec",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x:{version}/'}\n",
            "monitor.yaml:2: field 'probes[0].url': 'http://x:{version}/' cannot be parsed as a URL; "
            "write scheme://host[:port]/path",
        ),
        (
            "probes:\n  - {name: a, url: 'http://x/{service'}\n",
            "monitor.yaml:2: field 'probes[0].url': a lone '{'; write {{ for a literal brace",
        ),
        (
            "probes:\n  - name: a\n    url: 'https://{service}.example.com/'\n    hosts:\n"
            "      - cart.example.com\n      - '*.example.com'\n",
            "monitor.yaml:6: field 'probes[0].hosts[1]': '*.example.com' is a pattern; a probe's hosts are "
            "host names; list each host",
        ),
        (
            "probes:\n  - name: a\n    url: 'https://cart.example.com/'\n"
            "    redirect_hosts: ['https://login.example.com']\n",
            "monitor.yaml:4: field 'probes[0].redirect_hosts[0]': 'https://login.example.com' is not a host "
            "name; write a host name",
        ),
        (
            "probes:\n  - name: a\n    url: 'https://checkout.example.com/health'\n"
            "    hosts: [checkout.exmaple.com]\n",
            "monitor.yaml:4: field 'probes[0].hosts': the URL's host 'checkout.example.com' is not among "
            "hosts; add it to hosts, or correct the URL",
        ),
    ],
)
def test_an_invalid_probe_setting_names_line_field_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_hosts_naming_the_urls_literal_host_or_a_templated_one_are_accepted(tmp_path: Path) -> None:
    literal, templated = _load(
        tmp_path,
        "probes:\n"
        "  - name: a\n"
        "    url: 'https://Checkout.example.com/'\n"
        "    hosts: [checkout.example.com, cdn.example.com]\n"
        "  - {name: b, url: 'https://{service}.example.com/{{x}}', hosts: [cart.example.com]}\n",
    ).probes
    assert literal.allowed_hosts() == {"checkout.example.com", "cdn.example.com"}
    assert templated.render("cart", "v1", "") == "https://cart.example.com/{x}"

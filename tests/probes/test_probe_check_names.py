"""The checks a request adds for its probes: names that cannot clash, descriptions without secrets."""

from __future__ import annotations

import pytest

from monitor.checks.probes import check_name_clash, probe_checks
from monitor.errors import InputError
from monitor.models import ProbeSpec

HEALTH = ProbeSpec(name="health", url="https://checkout.example.com/health?token=probe-token-31&v=2")


def test_a_rule_s_description_shows_the_url_redacted() -> None:
    rule = probe_checks([HEALTH])[0].spec
    assert rule.description == "smoke probe health: GET https://checkout.example.com/health?token=***&v=2"


@pytest.mark.parametrize("name", ["health_latency", "health-latency", "Health.Latency"])
def test_a_probe_named_as_another_s_latency_check_clashes(name: str) -> None:
    other = ProbeSpec(name=name, url="https://checkout.example.com/other")
    assert check_name_clash(other, [HEALTH]) == (HEALTH, "probe_health_latency")
    assert check_name_clash(HEALTH, [other]) == (other, "probe_health_latency")
    with pytest.raises(InputError) as caught:
        probe_checks([HEALTH, other], [HEALTH.name])
    assert str(caught.value) == "two probes make the check probe_health_latency: rename one"


def test_names_apart_in_letters_do_not_clash() -> None:
    others = [ProbeSpec(name=n, url="https://x.example.com/") for n in ("healthz", "latency", "health_lat")]
    assert check_name_clash(HEALTH, others) is None
    assert [a.spec.name for a in probe_checks([HEALTH, *others], ["health"])][:2] == [
        "probe_health",
        "probe_health_latency",
    ]

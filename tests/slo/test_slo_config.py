"""``slos:`` in the config file (errors name file:line and the fix) and ``monitor slo generate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.commands import slo as slo_command
from monitor.config import load_settings
from monitor.config.file import read_slos
from monitor.errors import ConfigError
from monitor.slo import SLO, rule_file, unit_test_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config" / "monitor.yaml"
SLO_YAML = """\
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli:
      errors: sum(rate(x_total{code=~"5.."}[{{.window}}]))
      total: sum(rate(x_total{}[{{.window}}]))
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return path


def test_the_section_becomes_slos_with_a_30_day_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "environment: production\n" + SLO_YAML)
    expected = SLO(
        name="checkout-availability",
        service="checkout",
        objective=0.999,
        window_days=30,
        errors='sum(rate(x_total{code=~"5.."}[{{.window}}]))',
        total="sum(rate(x_total{}[{{.window}}]))",
    )
    assert read_slos(path) == (expected,)
    assert load_settings(path, environ={}).slos == (expected,)


def test_the_example_has_one_slo_on_the_otel_http_metrics() -> None:
    (slo,) = read_slos(EXAMPLE)  # reads no secret: the example's variables are unset here
    assert (slo.name, slo.service, slo.objective, slo.window_days) == (
        "checkout-availability",
        "checkout",
        0.999,
        30,
    )
    assert slo.errors is not None and 'http_response_status_code=~"5.."' in slo.errors
    assert "http_server_request_duration_seconds_count" in slo.total


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "objective: 0.999",
            "objective: 99.9",
            r"monitor.yaml:4: field 'slos\[0\].objective'.*0.999 for 99.9 %",
        ),
        (
            "    objective: 0.999\n",
            "    objective: 0.999\n    window: 7d\n",
            r":5: field 'slos\[0\].window'.*28d or 30d",
        ),
        ("checkout-availability", "Checkout Availability", r":2: field 'slos\[0\].name'.*lower-case letters"),
        (
            "[{{.window}}]))\n",
            "[5m]))\n",
            r":6: field 'slos\[0\].sli.errors': no \{\{.window\}\}.*write the range as",
        ),
        ("      errors:", "      good:", "never"),  # a good-events SLI is as valid
        (
            "      errors: ",
            "      good: x\n      errors: ",
            r":5: field 'slos\[0\].sli': give exactly one of errors and good",
        ),
        ("    service: checkout\n", "", r":2: field 'slos\[0\].service': missing; name the service"),
        # A count over the window is no rate: the verdict would multiply it by the window's seconds.
        (
            "sum(rate(x_total{}",
            "sum(increase(x_total{}",
            r":7: field 'slos\[0\].sli.total': increase\(...\) counts events.*"
            r"write rate\(...\[\{\{.window\}\}\]\) \(Sloth's convention\)",
        ),
        ("rate(x_total{code", "count_over_time(x_total{code", r":6: .*sli.errors': count_over_time"),
        ("sum(rate(x_total{}", "sum(Sum_Over_Time(x_total{}", r":7: .*Sum_Over_Time\(...\) counts events"),
        ("sum(rate(x_total{}", "sum(delta(x_total{}", r":7: .*delta\(...\) counts events"),
        # A bare metric is refused when the config is read, not only when a verdict runs.
        (
            "x_total{}[",
            "x_total[",
            r":7: field 'slos\[0\].sli.total': x_total is selected without braces.*write x_total\{\}",
        ),
    ],
)
def test_errors_name_the_line_the_field_and_the_fix(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SLO_YAML
    path = _write(tmp_path, SLO_YAML.replace(old, new, 1))
    if message == "never":
        assert read_slos(path)[0].good is not None
        return
    with pytest.raises(ConfigError, match=message):
        read_slos(path)


def test_an_sli_of_good_events_is_as_valid(tmp_path: Path) -> None:
    (slo,) = read_slos(_write(tmp_path, SLO_YAML.replace("      errors:", "      good:")))
    assert (slo.good, slo.errors) == ('sum(rate(x_total{code=~"5.."}[{{.window}}]))', None)


def test_counting_words_in_strings_comments_or_metric_names_are_no_counting_functions(tmp_path: Path) -> None:
    text = SLO_YAML.replace(
        '      errors: sum(rate(x_total{code=~"5.."}[{{.window}}]))',
        "      errors: |\n"
        "        # not increase(x[5m]): a rate, as every SLI\n"
        '        sum(rate(increase_total{path="/increase(", code=~"5.."}[{{.window}}])) BY (code)',
    )
    (slo,) = read_slos(_write(tmp_path, text))
    assert slo.errors is not None and "increase_total" in slo.errors


@pytest.mark.parametrize(
    ("environments", "objective", "message"),
    [
        # Production's built-in 10x of a 90 % objective is an error ratio of 10 x 0.1 = 1.
        (
            "",
            "0.9",
            r":4: field 'slos\[0\].objective': objective 0.9 \(error budget 0.1\) with the built-in "
            r"environments.production.slo_burn_limit 10: .* allows every request to fail; raise the "
            r"objective above 0.9, or lower environments.production.slo_burn_limit below 10",
        ),
        # A configured 250x of a 99.5 % objective: 250 x 0.005 = 1.25.
        (
            "environments:\n  canary-lab: {slo_burn_limit: 250}\n",
            "0.995",
            r"objective 0.995 \(error budget 0.005\) with environments.canary-lab.slo_burn_limit 250: "
            r"a burn of 250x is an error ratio of 1.25",
        ),
    ],
)
def test_a_limit_that_allows_every_request_to_fail_is_refused(
    tmp_path: Path, environments: str, objective: str, message: str
) -> None:
    path = _write(tmp_path, environments + SLO_YAML.replace("0.999", objective))
    with pytest.raises(ConfigError, match=message):
        read_slos(path)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_a_limit_just_short_of_every_request_is_accepted(tmp_path: Path) -> None:
    """9.99 x 0.1 = 0.999 < 1: the check can still fail a version whose every request fails."""
    text = "environments:\n  production: {slo_burn_limit: 9.99}\n" + SLO_YAML.replace("0.999", "0.9")
    (slo,) = read_slos(_write(tmp_path, text))
    assert slo.error_budget == 0.1


def test_two_slos_of_one_name_are_refused(tmp_path: Path) -> None:
    entry = SLO_YAML.removeprefix("slos:\n")
    path = _write(tmp_path, SLO_YAML + entry)
    with pytest.raises(
        ConfigError, match=r"monitor.yaml:8: field 'slos\[1\].name': 'checkout-availability' is named twice"
    ):
        read_slos(path)


def test_generate_writes_the_rules_and_their_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = _write(tmp_path, SLO_YAML), tmp_path / "rules"
    assert main(["slo", "generate", "--config", str(config), "--out", str(out)]) == 0
    (slo,) = read_slos(config)
    assert (out / "checkout-availability.slo.rules.yml").read_text() == rule_file(slo)
    assert (out / "tests" / "checkout-availability.slo.test.yml").read_text() == unit_test_file(slo)
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {out}/checkout-availability.slo.rules.yml",
        f"wrote {out}/tests/checkout-availability.slo.test.yml",
    ]


def test_generate_without_out_writes_into_the_commands_one_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's --out default is monitor.commands.slo.DEFAULT_OUT, not a copy of it: moving the
    constant moves where the files go, and --help shows it."""
    config = _write(tmp_path, SLO_YAML)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(slo_command, "DEFAULT_OUT", Path("elsewhere/slo"))
    assert main(["slo", "generate", "--config", str(config)]) == 0
    assert (tmp_path / "elsewhere" / "slo" / "checkout-availability.slo.rules.yml").is_file()
    assert (tmp_path / "elsewhere" / "slo" / "tests" / "checkout-availability.slo.test.yml").is_file()
    assert not (tmp_path / "alert_rules").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["slo", "generate", "--help"])
    assert "(default: elsewhere/slo)" in " ".join(capsys.readouterr().out.split())


def test_generate_without_slos_or_config_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path, "environment: production\n")
    assert main(["slo", "generate", "--config", str(config), "--out", str(tmp_path / "out")]) == 3
    assert "no slos: section" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    broken = _write(tmp_path, SLO_YAML.replace("0.999", "2"))
    assert main(["slo", "generate", "--config", str(broken), "--out", str(tmp_path / "out")]) == 3
    assert "monitor.yaml:4: field 'slos[0].objective'" in capsys.readouterr().err


def test_the_committed_example_rules_are_what_generate_writes(tmp_path: Path) -> None:
    """alert_rules/slo/ holds the example's generated files: regenerate after changing either."""
    assert main(["slo", "generate", "--config", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    committed = ROOT / "alert_rules" / "slo"
    for name in ("checkout-availability.slo.rules.yml", "tests/checkout-availability.slo.test.yml"):
        assert (committed / name).read_text() == (tmp_path / name).read_text(), (
            f"alert_rules/slo/{name} is stale: run monitor slo generate --config examples/config/monitor.yaml"
        )

"""Environment variables: one table, read through one function, listed in --help and the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.envvars import VARIABLES, env, env_flag, markdown_table
from monitor.sources.configured import URL_VARIABLES

ROOT = Path(__file__).parents[1]
# Not settings: OpenTelemetry's own variables, a secret's variable named by the config file,
# the in-cluster marker Kubernetes sets, and OpenBLAS's thread count that analyze sets for numpy.
READ_DIRECTLY = {"envvars.py", "tracing.py", "secretfile.py", "rollback/kubernetes.py", "cli.py"}


def test_every_setting_variable_is_in_the_table() -> None:
    names = {v.name for v in VARIABLES}
    assert len(names) == len(VARIABLES)
    assert set(URL_VARIABLES.values()) <= names
    used: set[str] = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        relative = path.relative_to(ROOT / "monitor").as_posix()
        text = path.read_text(encoding="utf-8")
        if relative not in READ_DIRECTLY:
            assert not re.search(r"os\.environ|os\.getenv", text), f"{relative} reads the environment"
        used |= set(re.findall(r"\benv(?:_flag)?\(\s*\"(MONITOR_[A-Z_]+)\"", text))
    assert used, "no variable read through env()"
    assert used <= names


def test_help_and_docs_list_every_variable() -> None:
    help_text = build_parser().format_help()
    assert all(v.name in help_text for v in VARIABLES)
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    generated = re.search(r"generated from monitor/envvars.py: begin -->\n(.*?)\n<!--", docs, re.S)
    assert generated is not None and generated.group(1) == markdown_table(), (
        "docs/configuration.md is out of date: paste monitor.envvars.markdown_table() into it"
    )


def test_an_empty_variable_is_unset_and_an_unlisted_one_is_an_error() -> None:
    assert env("MONITOR_LISTEN", {}) == "127.0.0.1:8080"
    assert env("MONITOR_LISTEN", {"MONITOR_LISTEN": ""}) == "127.0.0.1:8080"
    assert env("MONITOR_LISTEN", {"MONITOR_LISTEN": "0.0.0.0:80"}) == "0.0.0.0:80"
    assert env("MONITOR_CONFIG", {}) is None
    assert env_flag("MONITOR_INSECURE_NO_AUTH", {"MONITOR_INSECURE_NO_AUTH": "1"})
    assert not env_flag("MONITOR_INSECURE_NO_AUTH", {"MONITOR_INSECURE_NO_AUTH": "yes"})
    with pytest.raises(KeyError):
        env("MONITOR_NO_SUCH_VARIABLE", {})


def test_flags_take_their_defaults_from_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_LISTEN", "0.0.0.0:9999")
    monkeypatch.setenv("MONITOR_RULES_DIR", "my-rules")
    args = build_parser().parse_args(["serve"])
    assert args.listen == "0.0.0.0:9999"
    assert build_parser().parse_args(["provision"]).rules_dir == Path("my-rules")

"""``monitor report-link``: a fresh signed link from the key file and public_url, checked as the daemon
checks it; clear errors without a key, without public_url, or for a lifetime too long."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.cli import main
from monitor.reportlinks import INDEX_SUBJECT, LinkCheck, LinkKey, check_link

SECRET = "9" * 64


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "report-link-key"
    key.write_text(SECRET + "\n")
    monkeypatch.setenv("MONITOR_REPORT_LINK_KEY_FILE", str(key))
    monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.com/")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return key


def _checked(url: str, path: str, subject: str) -> int:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://monitor.example.com{path}"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    expires_s = int(query["exp"])
    assert (
        check_link(LinkKey(SECRET.encode()), subject, query["exp"], query["sig"], expires_s - 1)
        is LinkCheck.VALID
    )
    return expires_s


def test_it_prints_a_link_the_daemon_accepts(key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report-link", "dep-1", "--lifetime", "24h"]) == 0
    out, err = capsys.readouterr()
    expires_s = _checked(out.strip(), "/api/v1/deployments/dep-1/report", "dep-1")
    assert err.startswith("expires ")
    assert main(["report-link", "--index"]) == 0
    index_expires_s = _checked(capsys.readouterr().out.strip(), "/api/v1/deployments/index", INDEX_SUBJECT)
    assert 7 * 86400 - 5 <= index_expires_s - (expires_s - 86400) <= 7 * 86400 + 5  # the default lifetime


@pytest.mark.parametrize(
    ("argv", "unset", "message"),
    [
        (["report-link"], None, "name a deployment ID or pass --index"),
        (["report-link", "dep-1", "--index"], None, "name a deployment ID or pass --index"),
        (["report-link", "dep-1", "--lifetime", "91d"], None, "longer than 90 days"),
        (["report-link", "dep-1", "--lifetime", "soon"], None, "is not a duration"),
        (
            ["report-link", "dep-1"],
            "MONITOR_REPORT_LINK_KEY_FILE",
            "no report-link key: set report_links.key_file",
        ),
        (["report-link", "dep-1"], "MONITOR_PUBLIC_URL", "no public_url"),
    ],
)
def test_errors_say_what_to_set(
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    unset: str | None,
    message: str,
) -> None:
    if unset:
        monkeypatch.delenv(unset)
    assert main(argv) == 3
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_a_short_key_is_refused_naming_the_file(key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file.write_text("short")
    assert main(["report-link", "dep-1"]) == 3
    assert f"{key_file}: the key is 5 characters" in capsys.readouterr().err

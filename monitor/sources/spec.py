"""The ``prometheus``, ``loki``, ``tempo`` and ``jaeger`` sections of the config file: URL and credentials.

Each section may hold::

    url: https://prometheus.example.com       # a flag or MONITOR_<NAME>_URL overrides it
    bearer_token_file: /run/secrets/prom      # or bearer_token_env: VARIABLE; never inline
    basic_auth: {username: monitor, password_file: /run/secrets/prom-password}   # or password_env
    headers: {X-Scope-OrgID: team-a}          # sent with every request; not for secrets

A bearer token and basic auth exclude each other. Secrets are read once, here (a file relative to
the config file); a URL in the file may not carry a user name or password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.redact import redact_url
from monitor.secretfile import read_secret
from monitor.sources.credentials import NO_CREDENTIALS, Credentials, Endpoint, header_problem
from monitor.yamlfile import YamlDocument

SOURCE_FIELDS = frozenset({"url", "bearer_token_file", "bearer_token_env", "basic_auth", "headers"})
SOURCE_NAMES = ("prometheus", "loki", "tempo", "jaeger")
URL_VARIABLES = {name: f"MONITOR_{name.upper()}_URL" for name in SOURCE_NAMES}
_BASIC_FIELDS = {"username", "password_file", "password_env"}
_AUTH_KEYS = ("bearer_token_file", "bearer_token_env", "basic_auth")
_EXAMPLE = "url: http://prometheus:9090"


@dataclass(frozen=True)
class SourceSpec:
    """One backend as configured: its URL (None: given by a flag or variable, or unused) and credentials."""

    url: str | None = None
    credentials: Credentials = NO_CREDENTIALS


@dataclass(frozen=True)
class Sources:
    """The configured telemetry backends."""

    prometheus: SourceSpec = SourceSpec()
    loki: SourceSpec = SourceSpec()
    tempo: SourceSpec = SourceSpec()
    jaeger: SourceSpec = SourceSpec()


def _one_of(doc: YamlDocument, where: str, entry: dict[str, object], prefix: str) -> bool:
    """Whether ``<prefix>_file`` or ``<prefix>_env`` is set; both is an error."""
    file_key, env_key = f"{prefix}_file", f"{prefix}_env"
    if file_key in entry and env_key in entry:
        raise doc.error(f"{where}.{env_key}", f"both {file_key} and {env_key} are set", "keep one")
    for key in (file_key, env_key):
        if key in entry and not isinstance(entry[key], str):
            raise doc.error(f"{where}.{key}", f"expected a string, got {entry[key]!r}", "quote it")
    return file_key in entry or env_key in entry


def _secret(doc: YamlDocument, path: Path, where: str, entry: dict[str, object], prefix: str) -> str:
    """The secret ``<prefix>_file`` or ``<prefix>_env`` names; an empty one is an error."""
    secret = read_secret(doc, where, entry, path, prefix=prefix)
    if not secret:
        key = f"{prefix}_file" if f"{prefix}_file" in entry else f"{prefix}_env"
        raise doc.error(f"{where}.{key}", f"{entry[key]} is empty", "write the secret into it")
    return secret


def _basic_auth(doc: YamlDocument, path: Path, where: str, raw: object) -> tuple[str, str]:
    example = "write e.g. 'basic_auth: {username: monitor, password_file: /run/secrets/password}'"
    if not isinstance(raw, dict):
        raise doc.error(where, "expected a mapping", example)
    for key in raw:
        if key not in _BASIC_FIELDS:
            raise doc.error(
                f"{where}.{key}", "unknown field", f"use one of: {', '.join(sorted(_BASIC_FIELDS))}"
            )
    username = raw.get("username")
    if not isinstance(username, str) or not username:
        raise doc.error(f"{where}.username", "missing", example)
    if not _one_of(doc, where, raw, "password"):
        raise doc.error(
            where, "no password", "set password_file (a file holding it) or password_env (a variable)"
        )
    return username, _secret(doc, path, where, raw, "password")


def _headers(doc: YamlDocument, where: str, raw: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        raise doc.error(
            where, "expected a mapping of header names to values", "write e.g. '{X-Scope-OrgID: team-a}'"
        )
    headers = []
    for name, value in raw.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise doc.error(f"{where}.{name}", f"expected a string, got {value!r}", "quote the value")
        problem = header_problem(str(name), str(value))
        if problem:
            raise doc.error(f"{where}.{name}", *problem)
        headers.append((str(name), str(value)))
    return tuple(headers)


def _url(doc: YamlDocument, where: str, raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.lower().startswith(("http://", "https://")):
        shown = redact_url(raw) if isinstance(raw, str) else raw
        raise doc.error(
            where, f"expected an http:// or https:// URL, got {shown!r}", f"write e.g. '{_EXAMPLE}'"
        )
    endpoint = Endpoint.parse(raw, what=where)
    if endpoint.credentials.authenticates:
        raise doc.error(
            where,
            f"{endpoint.display} holds a user name or password",
            "keep secrets out of the file: use basic_auth with password_file, or bearer_token_file",
        )
    return raw


def parse_source(doc: YamlDocument, path: Path, name: str, section: dict[str, object]) -> SourceSpec:
    """The backend ``name`` from its already checked ``section``; secrets are read here."""
    bearer = _one_of(doc, name, section, "bearer_token")
    if bearer and "basic_auth" in section:
        raise doc.error(
            f"{name}.basic_auth",
            "both a bearer token and basic_auth are set",
            "keep one: the backend takes one",
        )
    token = _secret(doc, path, name, section, "bearer_token") if bearer else None
    username, password = (
        _basic_auth(doc, path, f"{name}.basic_auth", section["basic_auth"])
        if "basic_auth" in section
        else (None, None)
    )
    headers = _headers(doc, f"{name}.headers", section["headers"]) if "headers" in section else ()
    origin = next((f"{name}.{key}" for key in _AUTH_KEYS if key in section), name)
    return SourceSpec(
        url=_url(doc, f"{name}.url", section.get("url")),
        credentials=Credentials(
            bearer_token=token, username=username, password=password, headers=headers, origin=origin
        ),
    )

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

from pathlib import Path
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from monitor.errors import InputError
from monitor.redact import redact_url
from monitor.secretfile import read_secret
from monitor.settings.base import Fix, Section, WholeNumber, invalid
from monitor.sources.configured import SourceSpec
from monitor.sources.credentials import Credentials, Endpoint, header_problem
from monitor.yamlfile import YamlDocument

_AUTH_KEYS = ("bearer_token_file", "bearer_token_env", "basic_auth")
_EXAMPLE = "url: http://prometheus:9090"
_BASIC_EXAMPLE = "write e.g. 'basic_auth: {username: monitor, password_file: /run/secrets/password}'"


def _one_of(section: Section, prefix: str) -> None:
    """``<prefix>_file`` and ``<prefix>_env`` exclude each other."""
    file_key, env_key = f"{prefix}_file", f"{prefix}_env"
    if getattr(section, file_key) is not None and getattr(section, env_key) is not None:
        raise invalid(f"both {file_key} and {env_key} are set", "keep one", field=env_key)


def _header_value(value: object) -> object:
    # A number is a fine header value (X-Scope-OrgID: 1234); a YAML boolean is a mistake.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class BasicAuthSection(Section):
    """``basic_auth``: a user name and the password's file or variable."""

    username: Annotated[str, Field(min_length=1), Fix(_BASIC_EXAMPLE)]
    password_file: str | None = Field(None, description="a file holding the password")
    password_env: str | None = Field(None, description="an environment variable holding the password")

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        _one_of(self, "password")
        if self.password_file is None and self.password_env is None:
            raise invalid("no password", "set password_file (a file holding it) or password_env (a variable)")
        return self


class SourceSection(Section):
    """A backend: its URL and how to authenticate (secrets by file or variable, never inline)."""

    url: str | None = Field(None, description="the base URL; a flag or MONITOR_<NAME>_URL overrides it")
    bearer_token_file: str | None = Field(None, description="a file holding a bearer token")
    bearer_token_env: str | None = Field(None, description="an environment variable holding a bearer token")
    basic_auth: BasicAuthSection | None = None
    headers: dict[str, Annotated[str, BeforeValidator(_header_value), Fix("quote the value")]] | None = Field(
        None, description="sent with every request; not for secrets"
    )

    @field_validator("url")
    @classmethod
    def _plain_http_url(cls, raw: str) -> str:
        if not raw.lower().startswith(("http://", "https://")):
            raise invalid(
                f"expected an http:// or https:// URL, got {redact_url(raw)!r}", f"write e.g. '{_EXAMPLE}'"
            )
        try:
            endpoint = Endpoint.parse(raw)
        except InputError as exc:
            raise invalid(exc.problem, f"write e.g. '{_EXAMPLE}'") from None
        if endpoint.credentials.authenticates:
            raise invalid(
                f"{endpoint.display} holds a user name or password",
                "keep secrets out of the file: use basic_auth with password_file, or bearer_token_file",
            )
        return raw

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, headers: dict[str, str] | None) -> dict[str, str] | None:
        for name, value in (headers or {}).items():
            if problem := header_problem(name, value):
                raise invalid(*problem, field=name)
        return headers

    @model_validator(mode="after")
    def _one_authentication(self) -> Self:
        _one_of(self, "bearer_token")
        if self.basic_auth is not None and (self.bearer_token_file or self.bearer_token_env) is not None:
            raise invalid(
                "both a bearer token and basic_auth are set",
                "keep one: the backend takes one",
                field="basic_auth",
            )
        return self


class PrometheusSection(SourceSection):
    """``prometheus``: a source, and how long and how often a query is tried."""

    timeout_s: float = Field(10.0, ge=0.1, le=600, description="per request")
    max_attempts: WholeNumber = Field(3, ge=1, le=20, description="tries of a failing query")


def _secret(doc: YamlDocument, path: Path, where: str, entry: dict[str, object], prefix: str) -> str:
    """The secret ``<prefix>_file`` or ``<prefix>_env`` names; an empty one is an error."""
    secret = read_secret(doc, where, entry, path, prefix=prefix)
    if not secret:
        key = f"{prefix}_file" if entry.get(f"{prefix}_file") is not None else f"{prefix}_env"
        raise doc.error(f"{where}.{key}", f"{entry[key]} is empty", "write the secret into it")
    return secret


def source_spec(doc: YamlDocument, path: Path, name: str, section: SourceSection | None) -> SourceSpec:
    """The backend ``name`` from its validated ``section``; secrets are read here."""
    if section is None:
        return SourceSpec()
    entry = section.model_dump(exclude={"basic_auth", "headers"})
    token = None
    if section.bearer_token_file is not None or section.bearer_token_env is not None:
        token = _secret(doc, path, name, entry, "bearer_token")
    username = password = None
    if (basic := section.basic_auth) is not None:
        username = basic.username
        password = _secret(doc, path, f"{name}.basic_auth", basic.model_dump(), "password")
    origin = next((f"{name}.{key}" for key in _AUTH_KEYS if getattr(section, key) is not None), name)
    try:
        credentials = Credentials(
            bearer_token=token,
            username=username,
            password=password,
            headers=tuple((section.headers or {}).items()),
            origin=origin,
        )
    except InputError as exc:  # a user name with ':', a secret with a control character
        raise doc.error(origin, exc.problem, exc.fix or "fix the value") from None
    return SourceSpec(url=section.url, credentials=credentials)

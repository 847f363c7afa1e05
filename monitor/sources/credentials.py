"""How a telemetry backend is reached: its base URL and credentials, kept out of everything shown.

A backend behind an authenticating proxy (or Prometheus with ``--web.config.file``) wants a bearer
token or basic auth, and a multi-tenant one a header such as ``X-Scope-OrgID``. :class:`Credentials`
holds them (the secrets out of ``repr``); :class:`Endpoint` joins them to the URL. User info in the
URL (``http://user:password@host``) becomes basic auth, as aiohttp and requests would take it, but
explicitly: the URL sent and shown never holds it, so no client error can repeat it, and
:attr:`Endpoint.display` is the form every message uses.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from monitor.errors import InputError
from monitor.redact import MASK, is_secret_parameter, redact_text, redact_url

# Set by the credentials or the client themselves; a header of the same name would fight them.
RESERVED_HEADERS = frozenset({"authorization", "host", "content-length", "content-type"})
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
# Shorter secrets are not searched for in messages: replacing every "ab" would garble them, and
# the secrets are never formatted into a message in the first place.
_MIN_SCRUBBED = 4


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def header_problem(name: str, value: str) -> tuple[str, str] | None:
    """What is wrong with a configured header ``name: value`` and the fix, or None if it may be sent."""
    if not _HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a header name", "use letters, digits and -"
    if name.lower() in RESERVED_HEADERS:
        return f"header {name} is set by the monitor", "to authenticate, use bearer_token_file or basic_auth"
    if _has_control(value):
        return f"header {name} holds a control character", "write its value on one line"
    return None


@dataclass(frozen=True)
class Credentials:
    """A bearer token or a user name and password (not both), and headers sent with every request.

    ``origin`` names where they were configured (``prometheus.bearer_token_file``) for messages;
    the token and the password never appear in ``repr`` or in any message.
    """

    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    origin: str = ""

    def __post_init__(self) -> None:
        if self.bearer_token is not None and self.username is not None:
            raise self._error("a bearer token and basic auth are both set", "keep one")
        if self.username is not None and (":" in self.username or _has_control(self.username)):
            raise self._error(f"the user name {self.username!r} may not hold ':' or control characters")
        for secret, what in ((self.bearer_token, "the bearer token"), (self.password, "the password")):
            if secret is not None and _has_control(secret):
                raise self._error(f"{what} holds a control character", "write it on one line")
        for name, value in self.headers:
            problem = header_problem(name, value)
            if problem:
                raise self._error(*problem)

    def _error(self, problem: str, fix: str = "") -> InputError:
        """``<origin>: <problem>; <fix>``, the parts kept as fields for a caller naming file and line."""
        where = self.origin or "credentials"
        return InputError(f"{where}: {problem}{f'; {fix}' if fix else ''}", problem=problem, fix=fix)

    @property
    def authenticates(self) -> bool:
        """Whether an ``Authorization`` header is sent."""
        return self.bearer_token is not None or self.username is not None

    def http_headers(self) -> dict[str, str]:
        """The headers of every request: ``Authorization`` (if any) and the configured ones."""
        headers = dict(self.headers)
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        elif self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        return headers

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no message may hold."""
        return tuple(s for s in (self.bearer_token, self.password) if s)


NO_CREDENTIALS = Credentials()


@dataclass(frozen=True)
class Endpoint:
    """A backend's base URL without user info, its credentials, and the form safe to show.

    Build it with :meth:`parse`. ``root`` is scheme, host and base path (no trailing slash);
    ``query`` is the base URL's query string as written, kept on every request.
    """

    root: str = field(repr=False)
    query: str = field(repr=False)
    credentials: Credentials
    display: str

    @classmethod
    def parse(cls, url: str, credentials: Credentials = NO_CREDENTIALS, what: str = "the URL") -> Endpoint:
        """Split ``url``; its user info becomes basic auth (``what`` names the URL in errors)."""
        display = redact_url(url.rstrip("/"))
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
            problem, fix = (
                f"{what} {display!r} is not an http:// or https:// URL",
                "write e.g. http://host:9090",
            )
            raise InputError(f"{problem}; {fix}", problem=problem, fix=fix)
        rest, _, _fragment = rest.partition("#")
        rest, _, query = rest.partition("?")
        netloc, slash, path = rest.partition("/")
        userinfo, at, host = netloc.rpartition("@")
        if at:
            if credentials.authenticates:
                others = credentials.origin or "credentials"
                problem = f"{what} {display!r} holds a user name and {others} are configured too"
                fix = "keep one (the config file's, to keep the password out of the URL)"
                raise InputError(f"{problem}; {fix}", problem=problem, fix=fix)
            user, _, password = userinfo.partition(":")
            credentials = Credentials(
                username=unquote(user), password=unquote(password), headers=credentials.headers,
                origin=f"the user info of {what}",
            )  # fmt: skip
        root = f"{scheme}://{host}{slash}{path}".rstrip("/")
        return cls(root=root, query=query, credentials=credentials, display=display)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` (``/api/v1/query``) under the base URL, its query string kept."""
        return f"{self.root}{path}?{self.query}" if self.query else f"{self.root}{path}"

    def shown_url_for(self, path: str) -> str:
        """:meth:`url_for` as it may be shown: secret parameters masked."""
        return redact_url(self.url_for(path))

    def query_params(self) -> dict[str, str]:
        """The base URL's query parameters, for clients that take them apart from the URL."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def headers(self) -> dict[str, str]:
        """The headers of every request to this endpoint."""
        return self.credentials.http_headers()

    def scrub(self, text: str) -> str:
        """``text`` (a client's error, say) with URLs redacted and no secret of this endpoint left."""
        text = redact_text(text)
        for secret in (*self.credentials.secrets, *self._query_secrets()):
            if len(secret) >= _MIN_SCRUBBED:
                text = text.replace(secret, MASK)
        return text

    def _query_secrets(self) -> list[str]:
        """Values of the base URL's credential-like query parameters, as written and decoded."""
        found = []
        for part in self.query.split("&"):
            name, _, raw = part.partition("=")
            if raw and is_secret_parameter(name):
                found += [raw, unquote(raw.replace("+", " "))]
        return found

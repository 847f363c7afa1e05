"""Secrets masked out of URLs before they are shown: user info and credential-like query parameters;
and out of the bodies a probe shows (:func:`redact_body`).

Requests go to the real URL; whatever is shown (logged, answered by ``/readyz``, written into a
verdict document, a report page or a webhook payload) goes through :func:`redact_url`, or through
:func:`redact_text` when it is free text that may hold URLs, such as an error message. Masking
keeps what helps to debug (scheme, host, port, path, the names of the parameters and the user
name) and drops the values that grant access.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"

# Query (and fragment) parameters whose values are credentials, compared in lower case.
SECRET_PARAMETERS = frozenset(
    {
        "access_token", "api_key", "api-key", "apikey", "auth", "authorization", "client_secret",
        "code", "id_token", "key", "pass", "passwd", "password", "private_token", "pwd",
        "refresh_token", "secret", "session", "sessionid", "sig", "signature", "token",
        "x-amz-credential", "x-amz-security-token", "x-amz-signature", "x-goog-credential",
        "x-goog-signature",
    }
)  # fmt: skip
# A parameter named with one of these words holds a credential too (``X-Plex-Token``, ``db_password``).
_SECRET_WORDS = ("token", "secret", "passw", "signature", "apikey", "api_key", "api-key", "credential")

# ``name=value`` and JSON ``"name": "value"`` pairs in a body (a form, a query string, a JSON document);
# the name is checked with is_secret_parameter, the value masked up to its end.
_FORM_PAIR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>[^&\s\"'<>;,]+)")
_JSON_PAIR = re.compile(r'"(?P<name>[^"\\]{1,64})"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:)?//(?P<netloc>[^/?#]*)(?P<rest>.*)$", re.S)
# A URL inside free text ends at white space, a quote or an angle bracket (``URL('...')``, ``<...>``),
# and not on the punctuation after it (``see http://host/x.``).
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:)\]}]")


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter called ``name`` (raw or percent-encoded) carries a credential."""
    lowered = unquote_plus(name).strip().lower()
    return lowered in SECRET_PARAMETERS or any(word in lowered for word in _SECRET_WORDS)


def _redact_pairs(raw: str) -> str:
    """``a=1&token=x`` as ``a=1&token=***``, every other byte as it was."""
    parts = []
    for part in raw.split("&"):
        name, equals, value = part.partition("=")
        parts.append(f"{name}={MASK}" if equals and value and is_secret_parameter(name) else part)
    return "&".join(parts)


def _redact_userinfo(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    # A lone user name may be a token itself (``https://<token>@host``): masked too.
    return f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"


def redact_url(url: str) -> str:
    """``url`` with its password (or lone user name) and secret query parameter values masked.

    ``http://user:pw@host/p?token=t&a=1`` becomes ``http://user:***@host/p?token=***&a=1``. A
    string that is not an absolute URL only has its query string and fragment masked.
    """
    match = _URL.match(url)
    head, rest = ("", url) if match is None else (
        f"{match['scheme'] or ''}//{_redact_userinfo(match['netloc'])}", match["rest"]
    )  # fmt: skip
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    if question:
        path += question + _redact_pairs(query)
    if hash_:
        path += hash_ + _redact_pairs(fragment)
    return head + path


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url` (error messages, reasons)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text)


def _masked_pair(match: re.Match[str]) -> str:
    if not match["value"] or not is_secret_parameter(match["name"]):
        return match.group()
    start, end = match.span("value")
    return match.string[match.start() : start] + MASK + match.string[end : match.end()]


def redact_body(text: str) -> str:
    """``text`` (the first bytes of an answer a probe shows as evidence) with credentials masked: the
    URLs in it (:func:`redact_text`), ``token=...`` pairs and JSON ``"access_token": "..."`` members,
    by the names :func:`is_secret_parameter` knows. A health endpoint that echoes a session or a
    token must not publish it in a verdict, a report or a webhook."""
    text = redact_text(text)
    text = _JSON_PAIR.sub(_masked_pair, text)
    return _FORM_PAIR.sub(_masked_pair, text)

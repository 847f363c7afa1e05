"""Values of command-line flags and environment variables that name a server, checked before any work.

A URL without a scheme (``prometheus:9090``) would otherwise reach the HTTP client, which retries
it and fails with an error that names neither the flag nor the fix; it is cheaper to say at once::

    argument --prometheus-url: 'prometheus:9090' has no scheme; use http://prometheus:9090
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from monitor import envvars
from monitor.errors import InputError
from monitor.models import BaselineChoice

_SCHEMES = ("http", "https")
# ``--baseline`` of analyze and gate: the before/after baseline windows, and auto.
BASELINE_CHOICES = tuple(choice.value for choice in BaselineChoice)


def _shown(value: str) -> str:
    """``value`` fit to print: a password in it (``user:secret@host``) becomes ``***``."""
    userinfo, at, rest = value.rpartition("@")
    if not at:
        return value
    scheme, sep, user = userinfo.rpartition("//")
    name, colon, _ = user.partition(":")
    return f"{scheme}{sep}{name}{':***' if colon else ''}@{rest}"


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an ``http://`` or ``https://`` URL with a host, with the fix; None if it is."""
    shown = _shown(value)
    if not value.strip():
        return f"{shown!r} is empty; pass a URL such as http://prometheus:9090"
    if any(c.isspace() for c in value):
        return f"{shown!r} contains whitespace; remove it"
    if "://" not in value:
        # ``http:/host`` is a typo of the scheme; anything else lacks one.
        rest = re.sub(r"^(?i:https?):/*", "", shown).lstrip("/")
        return f"{shown!r} has no scheme; use http://{rest}"
    parts = urlsplit(value)
    if parts.scheme.lower() not in _SCHEMES:
        rest = shown.split("://", 1)[1]
        return f"{shown!r} has the scheme {parts.scheme!r}; use http://{rest} or https://{rest}"
    if not parts.hostname:
        return f"{shown!r} has no host; write it as {parts.scheme}://HOST:PORT, e.g. http://prometheus:9090"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"{shown!r} has an invalid port; use a number from 1 to 65535"
    return None


def check_url(value: str, where: str) -> str:
    """``value`` when it is an http(s) URL with a host; else :class:`InputError` naming ``where``
    (the flag or variable the value came from) and the fix."""
    problem = url_problem(value)
    if problem is not None:
        raise InputError(f"{where} {problem}")
    return value


def url_type(env: str | None = None) -> Callable[[str], str]:
    """An argparse ``type`` validating a URL flag (and its default, read from ``env``) at parse time.

    argparse reports the error as ``argument --flag: PROBLEM`` and exits 3 before any work; when the
    value came from ``env``, the message says so, since the flag was never typed.
    """

    def parse(value: str) -> str:
        problem = url_problem(value)
        if problem is None:
            return value
        if env is not None and envvars.env(env) == value:
            problem += f" (the value of {env})"
        raise argparse.ArgumentTypeError(problem)

    return parse

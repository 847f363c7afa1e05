"""JSON request bodies read as untrusted input: every way one can be wrong is a 400 naming the field.

``json.loads`` alone lets through what breaks later: nesting deep enough to exhaust the recursion
limit (a ``RecursionError``, a 500), text with a lone surrogate that no database accepts, a NUL byte
that PostgreSQL refuses. :func:`parse_json` rejects all three with the path of the offending value.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from monitor.api.problems import invalid

MAX_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None: a NUL byte, or not valid UTF-8 (a lone surrogate)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 text (a lone surrogate)"
    return None


def parse_json(raw: bytes | str, field: str = "body") -> Any:
    """The JSON document in ``raw``; :class:`~monitor.api.problems.Problem` (400) when unfit."""
    try:
        document = json.loads(raw)
    except RecursionError:
        raise invalid(field, f"nested too deeply; at most {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise invalid(field, f"not valid JSON ({exc})") from None
    check_document(document, field)
    return document


def check_document(document: Any, field: str = "body") -> None:
    """Depth and text of every value, without recursion: the first problem as a 400."""
    stack: list[tuple[Any, str, int]] = [(document, field, 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise invalid(field, f"nested too deeply; at most {MAX_DEPTH} levels")
        if isinstance(value, str):
            if (problem := text_problem(value)) is not None:
                raise invalid(path, f"{problem}; send plain text")
        elif isinstance(value, dict):
            for key, item in value.items():
                where = key if path == "body" else f"{path}.{key}"
                if (problem := text_problem(key)) is not None:
                    raise invalid(path, f"a key {problem}; send plain text")
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, checked (see :func:`parse_json`)."""
    return parse_json(await request.read())

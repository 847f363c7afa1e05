"""Compressed request bodies: refused before they are read, except where a route inflates them itself.

aiohttp inflates a gzip or deflate body on the event loop as it is read, and it reads, to discard
it, every body a handler left unread: after a 401, 404, 405 or 413 it would inflate a 1 MiB gzip
body of 1 GiB of zeros while every other request waited. So the daemon's HTTP server does not
inflate at all (:data:`HANDLER_ARGS`), and the :func:`compressed_bodies` middleware, placed before
authentication, decides what a ``Content-Encoding`` other than ``identity`` may reach:

* only the routes given to it accept one: the OTLP receiver's ``/v1/logs`` and ``/v1/traces``
  (gzip or deflate), which read at most 16 MiB of compressed bytes, after authentication, and
  inflate them in a worker thread with :func:`inflate`, which stops at 16 MiB (413) however far
  the body would go;
* any other route, an unknown path or method included, answers 415 with ``Accept-Encoding:
  identity`` without reading the body, whatever the token;
* a request answered with an error while its body is still unread (415, 401, 403, 404, 405, 413,
  429) gets ``Connection: close``: the server reads and discards the rest of the body, raw, for
  at most aiohttp's lingering time (10 s), so the client sees the answer, then closes.

Uncompressed bodies keep their per-route limits: 1 MiB on the JSON API (``client_max_size``),
16 MiB on the OTLP routes.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from monitor.api.problems import Problem
from monitor.errors import InputError

# The server hands bodies over as sent; routes that accept compression inflate within their caps.
HANDLER_ARGS: Mapping[str, Any] = {"auto_decompress": False}
IDENTITY = "identity"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_STEP_BYTES = 1024 * 1024  # inflated per call: the cap is checked between steps


class BodyError(InputError):
    """A compressed body that cannot be inflated (400) or inflates past its cap (413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def describe_size(size_bytes: int) -> str:
    """``16 MiB`` for a whole number of mebibytes, else ``1000 bytes``: for messages."""
    return f"{size_bytes // 2**20} MiB" if size_bytes % 2**20 == 0 else f"{size_bytes} bytes"


def content_coding(request: web.BaseRequest) -> str:
    """The request's ``Content-Encoding``, lower case; ``identity`` when absent."""
    return (request.headers.get("Content-Encoding") or IDENTITY).strip().lower() or IDENTITY


def compressed_bodies(accepting: Collection[str]) -> Middleware:
    """A middleware letting compressed bodies reach only the paths in ``accepting`` (see module)."""
    paths = frozenset(accepting)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        coding = content_coding(request)
        if coding != IDENTITY and request.path not in paths:
            problem = Problem(
                415,
                "Unsupported Media Type",
                f"Content-Encoding {coding!r} is not accepted by {request.method} {request.path}; "
                f"send the body uncompressed (only {', '.join(sorted(paths))} take gzip)",
                "Content-Encoding",
            )
            response: web.StreamResponse = problem.response(request.path)
            response.headers["Accept-Encoding"] = IDENTITY
        else:
            response = await handler(request)
        if response.status >= 400 and not request.content.is_eof() and not response.prepared:
            # The body is left unread: close rather than keep the connection for another request.
            response.force_close()
        return response

    return middleware


def inflate(raw: bytes | bytearray, coding: str, cap_bytes: int) -> bytes:
    """``raw`` inflated per ``coding`` (gzip or deflate), never more than ``cap_bytes`` of it.

    :class:`BodyError` 413 past the cap (inflating stops there, so a bomb costs at most the cap),
    400 for a corrupt or truncated stream, 415 for another coding. Concatenated gzip members are
    inflated one after another, as gzip readers do.
    """
    wbits = _WBITS.get(coding)
    if wbits is None:
        raise BodyError(f"Content-Encoding {coding!r} is not supported; use gzip or none", 415)
    if coding == "deflate" and raw[:1] and raw[0] & 0x0F != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as some clients send it
    too_big = BodyError(f"body inflates to over {describe_size(cap_bytes)}; send smaller batches", 413)
    out = bytearray()
    rest = raw
    while rest:
        decompressor = zlib.decompressobj(wbits)
        pending = rest
        try:
            while not decompressor.eof:
                # Bounded steps, and b"" once the input is used up: a few input bytes can hold
                # gigabytes of output, which an unbounded call (or flush) would produce at once.
                step = decompressor.decompress(pending, min(_STEP_BYTES, cap_bytes + 1 - len(out)))
                out += step
                if len(out) > cap_bytes:
                    raise too_big
                pending = decompressor.unconsumed_tail
                if not pending and not step and not decompressor.eof:
                    raise BodyError(f"the {coding} body is truncated; send the whole stream")
        except zlib.error as exc:
            raise BodyError(f"the {coding} body does not inflate ({exc}); is it corrupt?") from None
        rest = decompressor.unused_data if coding == "gzip" else b""
    return bytes(out)

"""The daemon's access log, with credentials in a query string masked.

A signed report link's ``sig`` (:mod:`monitor.reportlinks`) is a credential that rides in the
URL, and aiohttp's access log writes the request line as sent: the log would hand out working
links. Parameters named like credentials (:func:`~monitor.redact.is_secret_parameter`) are logged
as ``***``; every other request is logged untouched, at no cost.
"""

from __future__ import annotations

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from monitor.redact import is_secret_parameter


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access logger, masking credentials in the query string."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log ``request`` with its credential parameters masked."""
        secret = {name: "***" for name in request.query if is_secret_parameter(name)}
        if secret:
            request = request.clone(rel_url=request.rel_url.update_query(secret))
        super().log(request, response, time)

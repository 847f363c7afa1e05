"""The daemon's access log, with credentials in a query string masked.

A signed report link's ``sig`` (:mod:`monitor.reportlinks`) is a credential that rides in the
URL, and aiohttp's access log writes the request line and the ``Referer`` as sent: the log would
hand out working links. Parameters named like credentials
(:func:`~monitor.redact.is_secret_parameter`) are logged as ``***``, in both; every other request
is logged untouched, at no cost. (The pages also send ``Referrer-Policy: no-referrer``, but an
old browser or another site's page may still send one.)
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from multidict import CIMultiDict
from yarl import URL

from monitor.redact import is_secret_parameter


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access logger, masking credentials in the query string."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log ``request`` with its credential parameters masked."""
        if secret := _masks(request.query):
            request = request.clone(rel_url=request.rel_url.update_query(secret))
        referer = request.headers.get("Referer")
        if referer and (masked := _masked(referer)) != referer:
            headers = CIMultiDict(request.headers)
            headers["Referer"] = masked
            request = request.clone(headers=headers)
        super().log(request, response, time)


def _masks(names: Iterable[str]) -> dict[str, str]:
    """The query update that masks the credential parameters among ``names``."""
    return {name: "***" for name in names if is_secret_parameter(name)}


def _masked(address: str) -> str:
    """``address`` with its credential parameters as ``***`` (unparsable: all of its query)."""
    try:
        url = URL(address)
        secret = _masks(url.query)
        return str(url.update_query(secret)) if secret else address
    except ValueError:
        return address.partition("?")[0] + ("?***" if "?" in address else "")

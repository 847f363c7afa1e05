"""What every self-contained HTML page of the monitor shares: the Jinja2 environment that escapes
and redacts everything it prints, and the Content-Security-Policy that lets nothing load.

The deployment report (:mod:`monitor.api.report_page`) and the backtest page
(:mod:`monitor.backtest.render_html`) render with it: service names, messages and labels come from
API callers and metrics, so autoescaping is on, and every printed string passes
:func:`~monitor.redact.redact_text` (Jinja's ``finalize``), so a quoted URL shows no password or token.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from monitor.redact import redact_text

# Nothing but inline styles may load, so injected markup could do nothing; no script runs.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"


def _finalize(value: object) -> object:
    # Markup is already escaped (and its text redacted by the filter that made it).
    if isinstance(value, str) and not isinstance(value, Markup):
        return redact_text(value)
    return value


def page_environment(package: str, templates: str = "templates") -> jinja2.Environment:
    """A Jinja2 environment over ``package``'s ``templates`` folder: autoescaping, redaction, strict
    undefined names, and blocks that leave no blank lines."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, templates),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

"""A profile's PromQL templates: one version's label matchers, and the placeholders' substitution.

The engine renders them to query one version over one window; the Grafana dashboards render the
same templates with Grafana variables (``$version``, ``$__rate_interval``), so a panel shows what
the engine judges. Both go through here.
"""

from __future__ import annotations

import re
from string import Template

from monitor.profiles.model import Profile


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(
    profile: Profile, service: str, version: str | None, extra: tuple[tuple[str, str], ...] = ()
) -> str:
    """PromQL label matchers selecting one version of the service (every version when None)."""
    pairs = [(profile.labels.service, service)]
    if version is not None:
        pairs.append((profile.labels.version, version))
    pairs.extend(extra)
    return ", ".join(f"{name}={_quote(value)}" for name, value in pairs)


def render(template: str, profile: Profile, matchers: str, window: float | str) -> str:
    """Substitute ``$selector``, ``$window`` and ``$<key>_label`` in a query template.

    ``window`` is a length in seconds (rendered as whole seconds, at least one) or a range as
    PromQL text, such as Grafana's ``$__rate_interval``.
    """
    window_text = window if isinstance(window, str) else f"{max(1, round(window))}s"
    values = {"selector": matchers, "window": window_text}
    values.update(profile.labels.placeholders())
    return Template(template).substitute(values)


def is_plain_sum(expr: str) -> bool:
    """Whether ``expr`` is ``sum(...)`` as a whole (no ``by``/``without``, nothing after the parenthesis)."""
    expr = expr.strip()
    if not re.match(r"sum\s*\(", expr):
        return False
    depth, quote = 0, ""
    for index, char in enumerate(expr):
        if quote:
            quote = "" if char == quote and expr[index - 1] != "\\" else quote
        elif char in "\"'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index == len(expr) - 1
    return False

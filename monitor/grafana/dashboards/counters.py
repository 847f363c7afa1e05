"""How much the monitor's counters grew over a window, in panel queries.

prometheus-client exports a labelled series from its first increment, so a series the daemon could
not foresee (a service's first verdict in this engine process, a rollback retried after a restart)
is first scraped at 1, and ``increase()``, which needs an earlier sample, reads 0 for it.
"""

from __future__ import annotations


def grown(selector: str, window: str) -> str:
    """Per series, what the counters of ``selector`` counted within ``window``.

    A series absent at the window's start counts its whole value (it started from 0 within the
    window), the others their ``increase()``. The alert rules read each series' ``_created`` time
    instead, which also sees a series a restart brought back; panels keep to the counters
    themselves, so they draw the same from any Prometheus that has them.
    """
    return f"(({selector} unless {selector} offset {window}) or increase({selector}[{window}]))"

"""One probe attempt's outcome, typed: what the runner returns, the judge and the store read.

Defined in :mod:`monitor.models`, below the store, so that the store keeps it as it is.
"""

from monitor.models import ErrorKind, ProbeResult

__all__ = ["ErrorKind", "ProbeResult"]

"""Exit codes of the ``monitor`` commands, shared by the parser and every command.

A module of its own so that commands never import :mod:`monitor.cli` (which imports them).
"""

from __future__ import annotations

EXIT_PASS = 0
"""The verdict is pass (``analyze``, ``gate``), or the command did its work (``provision``)."""
EXIT_FAIL = 1
"""The verdict is fail, or ``provision --check`` found drift."""
EXIT_UNDECIDED = 2
"""Marginal, inconclusive, still running, or ``gate`` timed out waiting."""
EXIT_ERROR = 3
"""The command could not do its work: bad arguments, an unreachable backend, a required check's error."""

"""Pure judges: check data -> :class:`CheckResult` -> :class:`Verdict`. No I/O."""

from monitor.judges.score import decide

__all__ = ["decide"]

"""Traces and logs benchmark: faults in one service of a small instrumented system (see ``__main__``)."""

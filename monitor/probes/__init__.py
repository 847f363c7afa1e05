"""Smoke probes: HTTP(S) requests against a deployed version, their attempts and their judgement.

:mod:`.spec` is a probe's definition, :mod:`.runner` makes one attempt over aiohttp, :mod:`.judge` is the
pure "fails N times in a row" rule. Judging probes in verdicts is not wired yet.
"""

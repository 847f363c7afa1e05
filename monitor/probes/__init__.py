"""Smoke probes: HTTP(S) requests against a deployed version, their attempts and their judgement.

:class:`monitor.models.ProbeSpec` is a probe's definition (:mod:`.spec` has its helpers), :mod:`.targets`
says which address each version answers at, :mod:`.runner` makes one attempt over aiohttp into a
:mod:`.result`, :mod:`.judge` is the pure "fails N times in a row" rule, :mod:`.hosts` the hosts a
registration may send probes to, and :mod:`.session` runs a request's probes once (``analyze --probe``).
The daemon's runs are :mod:`monitor.engine.probing`'s; verdicts judge them as probe checks
(:mod:`monitor.checks.probes`).
"""

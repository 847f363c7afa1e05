"""Detection benchmark: our monitor against Kayenta-style and Flagger-style judges.

A grid of simulated deployments (A/A controls, regressions, a silent canary) is backfilled into
one real Prometheus; every run is then judged three ways and the detection rate, false-alarm
rate and minutes to a fail verdict are tabulated. Run it with ``python -m bench.detection``.
"""

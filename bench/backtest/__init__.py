"""Backtest benchmark: a simulated month of one service backfilled into a real Prometheus, backtested
by ``monitor.backtest`` and scored against the simulation's ground truth (``bench/README.md``)."""

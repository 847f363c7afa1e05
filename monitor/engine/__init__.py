"""The engine: one evaluation (look) of a deployment, and the replay of looks over a window."""

from monitor.engine.evaluate import evaluate_look
from monitor.engine.replay import analyze, look_times
from monitor.engine.request import AnalysisRequest

__all__ = ["AnalysisRequest", "analyze", "evaluate_look", "look_times"]

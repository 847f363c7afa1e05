"""The test tiers of ``tests/tiers.py``: the markers land where CONTRIBUTING.md says."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

TESTS = Path(__file__).resolve().parent
tiers = sys.modules["tests_tiers"]  # loaded by conftest.py


def _item(module: str, name: str, fixtures: tuple[str, ...] = (), **params: object) -> SimpleNamespace:
    callspec = SimpleNamespace(params=params) if params else None
    return SimpleNamespace(path=TESTS / module, name=name, fixturenames=fixtures, callspec=callspec)


def test_every_entry_names_an_existing_test() -> None:
    """An entry left behind by a rename would silently move tests into the fast tier."""
    for key, (marker, reason) in tiers.MARKS.items():
        assert marker in {"slow", "subprocess"} and reason
        module, _, test = key.partition("::")
        assert (TESTS / module).exists(), f"MARKS names {key}, but tests/{module} does not exist"
        if test:
            tree = ast.parse((TESTS / module).read_text(encoding="utf-8"))
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            assert test in names, f"MARKS names {key}, but tests/{module} has no {test}"


def test_markers_come_from_fixtures_parameters_and_the_table() -> None:
    assert tiers.tier_markers(_item("engine/test_x.py", "test_a", ("clock", "prometheus")), TESTS) == {
        "prometheus"
    }
    assert (
        tiers.tier_markers(_item("store/test_x.py", "test_a[sqlite]", database_url="sqlite"), TESTS) == set()
    )
    assert tiers.tier_markers(
        _item("store/test_x.py", "test_a[postgresql]", database_url="postgresql"), TESTS
    ) == {"postgres"}
    assert tiers.tier_markers(_item("helm/test_chart.py", "test_a"), TESTS) == {"slow"}
    sweep = "test_false_alarms_stay_below_alpha_with_twenty_looks"
    assert tiers.tier_markers(_item("stats/test_counts.py", f"{sweep}[3]"), TESTS) == {"slow"}
    assert tiers.tier_markers(_item("stats/test_counts.py", "test_other"), TESTS) == set()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_hook_marks_collected_tests(backend: str, request: pytest.FixtureRequest) -> None:
    marked = {mark.name for mark in request.node.iter_markers()}
    assert ("postgres" in marked) == (backend == "postgresql")

"""Where benchmarks leave their results: the markdown report and one JSON object per measurement."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(directory: Path, name: str, report: str, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``name.md`` and ``name.jsonl`` into ``directory`` (created if missing); the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.md").write_text(report, encoding="utf-8")
    with (directory / f"{name}.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return directory / f"{name}.md"

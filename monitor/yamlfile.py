"""YAML documents that remember where each field came from, for errors that name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML mapping plus the line of every field path (``checks[1].weight``)."""

    source: str
    data: dict[str, Any]
    lines: dict[str, int]

    def where(self, path: str) -> str:
        """``file:line`` of ``path``, falling back to its closest parent, then to the file."""
        probe = path
        while probe:
            if probe in self.lines:
                return f"{self.source}:{self.lines[probe]}"
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.source

    def error(self, path: str, problem: str, fix: str) -> ConfigError:
        """A :class:`ConfigError` naming the place, the field, the problem and the fix."""
        return ConfigError(f"{self.where(path)}: field '{path}': {problem}; {fix}")


def _collect_lines(node: yaml.Node, path: str, line: int, lines: dict[str, int]) -> None:
    """Record ``path``'s line: a mapping entry's key line, a list item's own line."""
    if path:
        lines[path] = line
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _collect_lines(value_node, f"{path}.{key}" if path else key, key_node.start_mark.line + 1, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, f"{path}[{index}]", item.start_mark.line + 1, lines)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text`` (from ``source``, used in messages) into a :class:`YamlDocument`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML ({problem}); fix the syntax at that line") from exc
    if not isinstance(data, dict) or node is None:
        raise ConfigError(
            f"{source}: expected a YAML mapping at the top level; start the file with 'name: ...'"
        )
    lines: dict[str, int] = {}
    _collect_lines(node, "", 1, lines)
    return YamlDocument(source=source, data=data, lines=lines)


def load_yaml_file(path: Path) -> YamlDocument:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); check the path") from exc
    return parse_yaml(text, str(path))

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

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its closest parent that has one; None when none has."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return None

    def where(self, path: str) -> str:
        """``file:line`` of ``path``, falling back to its closest parent, then to the file."""
        line = self.line(path)
        return self.source if line is None else f"{self.source}:{line}"

    def error(self, path: str, problem: str, fix: str) -> ConfigError:
        """A :class:`ConfigError` naming the place, the field, the problem and the fix."""
        return ConfigError(f"{self.where(path)}: field '{path}': {problem}; {fix}")


# Every value of a document, aliases expanded: far above any real config or profile.
MAX_VALUES = 100_000


def _collect_lines(root: yaml.Node, source: str, lines: dict[str, int]) -> None:
    """Record every path's line: a mapping entry's key line, a list item's own line.

    An alias is its anchor's node again, so a document can contain itself (``a: &a [*a]``) or
    expand exponentially (aliases of aliases, a "billion laughs"): the walk refuses both instead
    of recursing or running forever, and it keeps no Python stack for deep documents.
    """
    stack: list[tuple[yaml.Node, str, int, frozenset[int]]] = [(root, "", 1, frozenset())]
    walked = 0
    while stack:
        node, path, line, ancestors = stack.pop()
        walked += 1
        if walked > MAX_VALUES:
            raise ConfigError(
                f"{source}: the document expands to more than {MAX_VALUES:,} values; "
                "use fewer aliases (*name) of aliases"
            )
        if id(node) in ancestors:
            raise ConfigError(
                f"{source}:{line}: field '{path}': an alias refers to a value that contains it; "
                "write the value out"
            )
        if path:
            lines[path] = line
        inner = ancestors | {id(node)}
        children: list[tuple[yaml.Node, str, int, frozenset[int]]] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                where = f"{path}.{key}" if path else key
                children.append((value_node, where, key_node.start_mark.line + 1, inner))
        elif isinstance(node, yaml.SequenceNode):
            children = [
                (item, f"{path}[{i}]", item.start_mark.line + 1, inner) for i, item in enumerate(node.value)
            ]
        stack.extend(reversed(children))  # popped in document order: a repeated key's last line wins


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
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to read; flatten the document") from None
    if not isinstance(data, dict) or node is None:
        raise ConfigError(
            f"{source}: expected a YAML mapping at the top level; start the file with 'name: ...'"
        )
    lines: dict[str, int] = {}
    _collect_lines(node, source, lines)
    return YamlDocument(source=source, data=data, lines=lines)


def load_yaml_file(path: Path) -> YamlDocument:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); check the path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse_yaml(text, str(path))

"""Strategies shared by the fuzz targets: JSON documents, hostile text, and byte mutations."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

# The deployment the fuzzed app holds, so Flagger payloads can find it (see conftest.py).
REGISTERED = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}

# Text that has broken parsers before: NUL, lone surrogates, whitespace, huge and odd numbers.
HOSTILE_TEXT = st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", " padded ", "\n", "NaN", "1e999", "-0"])
LONG_TEXT = st.integers(min_value=100, max_value=5000).flatmap(
    lambda n: st.sampled_from(["9", "é", "a", "$"]).map(lambda c: c * n)
)
TEXT = st.text(max_size=40) | HOSTILE_TEXT | LONG_TEXT
NUMBERS = st.integers() | st.floats() | st.sampled_from([0, -1, 1e308, 2**63, 2**64 + 1, float("nan")])
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


# What YAML can hold after safe_load: JSON's values plus dates and non-string keys.
YAML_SCALARS = SCALARS | st.dates() | st.datetimes() | st.binary(max_size=8)
YAML_VALUES: st.SearchStrategy[Any] = st.recursive(
    YAML_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(TEXT | st.integers() | st.booleans() | st.none(), children, max_size=4)
    ),
    max_leaves=12,
)
# YAML features that have broken loaders: aliases (shared and self-referencing), deep nesting,
# tags, multiple documents, tabs, merge keys, odd scalars.
YAML_SNIPPETS = st.sampled_from(
    [
        "a: &a [1, 2]\nb: *a\n",
        "a: &a [*a]\n",
        "a: &a {b: *a}\n",
        "<<: {profile: x}\n",
        "a: *undefined\n",
        "!!python/object:os.system {}\n",
        "a: !!binary aGk=\n",
        "--- a\n--- b\n",
        "a:\n\t- 1\n",
        "? [a, b]\n: c\n",
        "a: 0o17\nb: 0x1F\nc: .inf\nd: .nan\ne: 2026-11-26\nf: ~\ng: off\n",
        "\ufeffa: 1\n",
        "a: '\\0'\nb: \"\\0\\uD800\"\n",
    ]
)


def bomb(levels: int) -> str:
    """YAML whose aliases expand to 9 ** ``levels`` leaves (a "billion laughs")."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def deep_yaml(depth: int) -> str:
    """A flow sequence nested ``depth`` levels deep."""
    return "a: " + "[" * depth + "]" * depth + "\n"


YAML_HOSTILE = st.one_of(
    YAML_SNIPPETS,
    st.integers(min_value=1, max_value=10).map(bomb),
    # Past PyYAML's recursion (about 490 levels), not far: its scanner is quadratic in flow depth.
    st.integers(min_value=1, max_value=600).map(deep_yaml),
)
YAML_TEXT = st.text(alphabet=st.sampled_from(list("ab01 :-[]{},#&*!|>'\"%@`?\n\t.~$")), max_size=80)


def nested(depth: int) -> str:
    """A JSON document nested ``depth`` levels deep (arrays and objects alternating)."""
    return "".join('{"a":[' for _ in range(depth)) + "1" + "".join("]}" for _ in range(depth))


DEEP = st.integers(min_value=1, max_value=3000).map(nested)


def dumps(value: Any) -> bytes:
    """``value`` as JSON text in UTF-8; NaN, and lone surrogates encoded as they are (invalid UTF-8)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def dumps_ascii(value: Any) -> bytes:
    """``value`` as JSON text with every non-ASCII character escaped (``\\ud800`` stays an escape)."""
    return json.dumps(value).encode()


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with a few bytes flipped, inserted, deleted, or the tail cut off."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=8))]
        elif action == "truncate":
            del data[at:]
    return bytes(data)


def raw_bodies(structured: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Request bodies: random bytes, any JSON, deep JSON, and ``structured`` documents, intact or mutated."""
    documents = structured.map(dumps)
    return st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(dumps),
        DEEP.map(str.encode),
        documents,
        structured.map(dumps_ascii),
        documents.flatmap(mutated),
    )


@st.composite
def corrupted(
    draw: st.DrawFn, document: Any, values: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]
) -> Any:
    """A copy of ``document`` (dicts and lists) with one to three edits at any depth: a value
    replaced by one of ``values``, an entry deleted, or an entry of ``keys`` added."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places: list[tuple[Any, Any]] = []
        stack: list[Any] = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict | list):
                places.append((node, None))
                for key, child in node.items() if isinstance(node, dict) else enumerate(node):
                    places.append((node, key))
                    stack.append(child)
        node, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if key is None or action == "add":
            if isinstance(node, dict):
                node[draw(keys)] = draw(values)
            else:
                node.append(draw(values))
        elif action == "delete":
            del node[key]
        else:
            node[key] = draw(values)
    return document

"""pybabel extractors for the YAML data that holds patient-facing words.

``flows/*.yaml``: question texts and "why" lines get the question id as context; option
labels get "option"; criterion texts get "criterion:<id>"; the flow's title and site get
"flow"; urgent advice gets "safety:<situation id>" and emergency-number places "place".
A question's ``label`` and a derived value's ``label`` (short names the study team reads)
get no context, so one word such as "Age" is one entry across flows.
``bot/engine/units.yaml``: unit labels get "unit". These are exactly the contexts the
engine's renderer translates them with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

Extracted = tuple[int, str, tuple[str, str] | str, list[str]]
DONT_KNOW_LABEL = "I don't know this value"  # offered with every measurement question


def _mapping(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _scalar(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) and node.value.strip():
        return str(node.value)
    return None


def _entry(node: yaml.Node | None, context: str, comment: str = "") -> Iterator[Extracted]:
    text = _scalar(node)
    if node is not None and text is not None:
        yield node.start_mark.line + 1, "pgettext", (context, text), [comment] if comment else []


def _label(node: yaml.Node | None, comment: str) -> Iterator[Extracted]:
    text = _scalar(node)
    if node is not None and text is not None:
        yield node.start_mark.line + 1, "gettext", text, [comment]


def _options(node: yaml.Node | None) -> Iterator[Extracted]:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _entry(_mapping(item).get("label"), "option", "an answer button")


def _identified(node: yaml.Node | None) -> Iterator[tuple[dict[str, yaml.Node], str]]:
    """Each mapping of a YAML list with its ``id`` ("?" when it has none)."""
    for item in getattr(node, "value", []):
        fields = _mapping(item)
        yield fields, _scalar(fields.get("id")) or "?"


def _safety(safety: dict[str, yaml.Node]) -> Iterator[Extracted]:
    for item in getattr(safety.get("emergency"), "value", []):
        yield from _entry(_mapping(item).get("place"), "place", "where an emergency number works")
    for fields, ident in _identified(safety.get("situations")):
        yield from _entry(
            fields.get("advice"),
            f"safety:{ident}",
            "urgent advice: get help now, never a diagnosis",
        )


def extract_flow(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Extracted]:
    """Yield the translatable texts of one flow file."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    top = _mapping(root) if root is not None else {}
    yield from _entry(top.get("title"), "flow", "the study, as named in the welcome")
    yield from _entry(top.get("site"), "flow", "the hospital")
    for option_set in _mapping(top.get("option_sets") or yaml.MappingNode("", [])).values():
        yield from _options(option_set)
    measured = False
    for fields, qid in _identified(top.get("questions")):
        yield from _entry(fields.get("text"), qid, "a question; keep it plain and short")
        yield from _entry(fields.get("why"), qid, "why we ask this question")
        yield from _label(fields.get("label"), "a short name of an answer, for the study team")
        yield from _options(fields.get("options"))
        measured = measured or _scalar(fields.get("kind")) == "measurement"
    if measured and root is not None:
        yield (
            root.start_mark.line + 1,
            "pgettext",
            ("option", DONT_KNOW_LABEL),
            ["an answer button"],
        )
    for value in getattr(top.get("derived"), "value", []):
        yield from _label(
            _mapping(value).get("label"), "a value worked out from answers, for the study team"
        )
    yield from _safety(_mapping(top.get("safety") or yaml.MappingNode("", [])))
    for fields, ident in _identified(top.get("criteria")):
        context = f"criterion:{ident}"
        yield from _entry(fields.get("title"), context, "a criterion's name, for the study team")
        yield from _entry(fields.get("fail"), context, "why the study is probably not a fit")
        yield from _entry(
            fields.get("unknown"), context, "what the study team still needs to check"
        )


def extract_units(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Extracted]:
    """Yield every unit label of units.yaml (key ``label`` anywhere under a unit)."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == "label":
                    english = (
                        _mapping(value).get("en") if isinstance(value, yaml.MappingNode) else value
                    )
                    yield from _entry(english, "unit", "a unit, as a patient would write it")
                else:
                    stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)

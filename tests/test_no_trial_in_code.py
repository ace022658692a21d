"""No module under ``bot/`` names a fact of any trial: trial knowledge lives in the flows.

The rule, chosen so that it catches code that knows a trial and not ordinary words:

* Python (``bot/**/*.py``, read with :mod:`ast`): a string literal whose whole value is a
  fact id (``"weight"``, ``answers["hba1c"]``, a dict key), an attribute (``x.weight``) or a
  keyword argument (``f(weight=...)``): the ways code reaches a fact of a record. Local
  names are not looked at (``age = now - last`` in a health check is an ordinary word), nor
  is prose: a docstring or message that mentions "age" among other words is a longer
  string, and comments are not code.
* YAML (``bot/**/*.yaml``, none of them a flow): a mapping key equal to a fact id. List
  items are words people type (the fillers "age", "weight" in the understanding words)
  and are not looked at. The one exception among keys is the units catalogue's
  ``quantities`` (``bot/engine/units.yaml``): a quantity ("weight", "age") is a kind of
  measurement any trial may use, named by a flow with ``quantity:``; it is not a fact,
  even when a flow calls its fact the same.

Fact ids are every question id and derived value id of every flow in ``flows/`` (with
kept versions) and of the second trial in ``tests/data``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import yaml

from bot.engine.flow import FLOWS_DIR, Flow, load_flow
from tests.conftest import DATA

BOT = Path(__file__).resolve().parents[1] / "bot"
UNITS = BOT / "engine" / "units.yaml"


def _flows() -> list[Flow]:
    paths = [*sorted(FLOWS_DIR.rglob("*.yaml")), DATA / "second_trial.yaml"]
    return [load_flow(p) for p in paths]


def fact_ids() -> frozenset[str]:
    """Every fact (question) id and derived value id of every flow."""
    ids: set[str] = set()
    for flow in _flows():
        ids |= {q.id for q in flow.questions} | {d.id for d in flow.derived}
    return frozenset(ids)


def _python_hits(path: Path, ids: frozenset[str]) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name: str | None = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.keyword):
            name = node.arg
        if name in ids:
            yield getattr(node, "lineno", 0), name


def _yaml_hits(path: Path, ids: frozenset[str]) -> Iterator[tuple[int, str]]:
    root = yaml.compose(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    if path == UNITS and isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "quantities" and isinstance(value, yaml.MappingNode):
                skip = {id(k) for k, _v in value.value}
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if id(key) not in skip and getattr(key, "value", None) in ids:
                    yield key.start_mark.line + 1, key.value
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def trial_names_in(folder: Path, ids: frozenset[str]) -> list[str]:
    """``file:line: id`` for every place under ``folder`` that names a fact id."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        found += [f"{path.relative_to(folder)}:{n}: {i}" for n, i in _python_hits(path, ids)]
    for path in sorted(folder.rglob("*.yaml")):
        found += [f"{path.relative_to(folder)}:{n}: {i}" for n, i in _yaml_hits(path, ids)]
    return found


def test_both_trials_have_facts_of_their_own() -> None:
    first, second = load_flow(FLOWS_DIR / "nct06751199.yaml"), load_flow(DATA / "second_trial.yaml")
    assert {q.id for q in first.questions}.isdisjoint(q.id for q in second.questions)
    assert len(fact_ids()) > 30


def test_no_module_under_bot_names_a_fact_of_either_trial() -> None:
    found = trial_names_in(BOT, fact_ids())
    assert not found, "trial facts named under bot/ (put them in the flow):\n" + "\n".join(found)


def test_the_scan_finds_a_fact_named_in_code(tmp_path: Path) -> None:
    (tmp_path / "card.py").write_text(
        'LABELS = {"weight": "Weight"}\n'
        "def f(answers, age):\n"
        "    return answers.hba1c, g(smoker=1), age\n"
        '"""A docstring about age and weight is prose."""\n',
        encoding="utf-8",
    )
    (tmp_path / "words.yaml").write_text("body_height: [tall]\nfillers: [age, weight]\n")
    found = trial_names_in(tmp_path, fact_ids())
    assert [line.split(":", 1)[1] for line in found] == [
        "1: weight",
        "3: hba1c",
        "3: smoker",
        "1: body_height",
    ]

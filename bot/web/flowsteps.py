"""The flow as an ordered list of steps with their branches, in the team's language: the
console's Flow page (drawn by the server, so it needs no script and no outside site)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from bot.engine.flow import Flow, flow_path, load_flow
from bot.team.cards import TeamTexts


@dataclass(frozen=True, slots=True)
class FlowStep:
    title: str
    condition: str | None  # when it is asked, or None when always
    answers: list[str]  # the choices offered (empty for a number)


@dataclass(frozen=True, slots=True)
class FlowPage:
    title: str
    protocol: str
    version: int
    steps: list[FlowStep]
    criteria: list[tuple[str, list[str]]]  # (title, the questions it reads)


@cache
def _flow(flow_id: str) -> tuple[Flow, dict[str, Any]]:
    path = flow_path(flow_id)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    when = {q["id"]: q["when"] for q in raw.get("questions", []) if "when" in q}
    return load_flow(path), when


def flow_page(flow_id: str, texts: TeamTexts) -> FlowPage:
    """The steps of ``flow_id`` as the study team reads them."""
    flow, when = _flow(flow_id)
    t = texts.t
    steps = [
        FlowStep(
            t.gettext("Agreement to the health questions"),
            None,
            [t.gettext("If the person does not agree, the questions end.")],
        )
    ]
    for q in flow.questions:
        answers = [t.pgettext("option", o.label) for o in q.options]
        condition = _condition(flow, texts, when.get(q.id)) if q.when is not None else None
        steps.append(FlowStep(t.pgettext(q.id, q.text), condition, answers))
    steps.append(
        FlowStep(
            t.gettext("Result"),
            t.gettext(
                "As soon as an answer fails a criterion, the person is asked to check it; "
                "if it is right, the questions end there."
            ),
            [],
        )
    )
    steps.append(
        FlowStep(
            t.gettext("Contact details for the study team"),
            t.gettext("Only if the person agrees to share them."),
            [t.gettext("Phone, name, e-mail, best time and language to call.")],
        )
    )
    criteria = [
        (
            texts.criterion(flow, c.id),
            [t.pgettext(f, flow.question(f).text) for f in sorted(c.facts) if flow.has_question(f)],
        )
        for c in flow.criteria
    ]
    return FlowPage(flow.title, flow.protocol, flow.version, steps, criteria)


def _condition(flow: Flow, texts: TeamTexts, raw: Any) -> str:
    """When a question is asked, from its ``when`` (``{fact, in | not_in}``) in plain words."""
    t = texts.t
    if not isinstance(raw, dict) or not flow.has_question(str(raw.get("fact", ""))):
        return t.gettext("Asked only when earlier answers call for it.")
    question = flow.question(raw["fact"])
    labels = {o.id: t.pgettext("option", o.label) for o in question.options}
    asked = t.pgettext(question.id, question.text)
    if "in" in raw:
        answers = ", ".join(labels.get(str(v), str(v)) for v in raw["in"])
        return t.gettext(
            "Asked only when the answer to “{question}” is: {answers}",
            question=asked,
            answers=answers,
        )
    if "not_in" in raw:
        answers = ", ".join(labels.get(str(v), str(v)) for v in raw["not_in"])
        return t.gettext(
            "Asked only when the answer to “{question}” is not: {answers}",
            question=asked,
            answers=answers,
        )
    return t.gettext("Asked only when earlier answers call for it.")

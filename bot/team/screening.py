"""What a referral's screening says, read with the flow version that decided it: the
answers that count, the values the flow works out from them, and the flow itself."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from bot.engine.errors import FlowError
from bot.engine.facts import Fact
from bot.engine.flow import Flow
from bot.engine.flow_versions import load_flow_version
from bot.engine.record import Answer
from bot.storage.store import AnswerView, ReferralDetails


@cache
def flow_for(flow_id: str, version: str | int | None = None) -> Flow | None:
    """The flow a referral was screened with, in that version (None when it is not kept)."""
    try:
        return load_flow_version(flow_id, version)
    except FlowError:
        return None


def derived_values(details: ReferralDetails) -> dict[str, Decimal]:
    """The values the referral's flow works out from its exact answers (a BMI), by id."""
    flow = flow_for(details.flow_id, details.flow_version)
    if flow is None:
        return {}
    view = flow.view(engine_answers(details.answers))
    found = {d.id: d.exact(view) for d in flow.derived}
    return {k: v for k, v in found.items() if v is not None}


def counted_answers(details: ReferralDetails) -> dict[str, AnswerView]:
    """The answers that count (not those to questions no longer asked), in the flow's order."""
    answers = details.answers
    flow = flow_for(details.flow_id, details.flow_version)
    if flow is None:
        return dict(answers)
    view = flow.view(engine_answers(answers))
    counted = {f for f in answers if view.status(f) is Fact.ANSWERED}
    known = [q.id for q in flow.questions if q.id in counted]
    extra = [f for f in answers if f not in known and not flow.has_question(f)]
    return {f: answers[f] for f in known + extra}


def engine_answers(answers: dict[str, AnswerView]) -> dict[str, Answer]:
    return {f: Answer(a.value, a.raw, a.unit) for f, a in answers.items()}

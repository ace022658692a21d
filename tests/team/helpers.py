"""Referrals made the way the patient side makes them: a real screening, then one turn."""

from __future__ import annotations

from functools import cache
from typing import Any

from bot.engine.engine import Engine, load_engine
from bot.engine.record import Conversation
from bot.storage.store import Store
from bot.team import REFERRAL_CARD, REFERRAL_EMAIL
from tests.conftest import Patient, with_answers

TYPED = with_answers(weight="130斤", height="1米65", hba1c="8.5 %", age="45岁")


@cache
def _engine() -> Engine:
    return load_engine("nct06751199")


@cache
def _screened(lang: str, answers_key: tuple[tuple[str, str], ...]) -> Conversation:
    patient = Patient(_engine(), lang)
    patient.run(dict(answers_key))
    assert patient.conv.outcome is not None, patient.conv.state
    return patient.conv


def screened(lang: str = "zh-Hans", answers: dict[str, str] | None = None) -> Conversation:
    """A finished screening (the same conversation object for the same answers: copy it)."""
    return _screened(lang, tuple(sorted((answers or TYPED).items())))


async def make_referral(
    store: Store,
    user_id: int,
    *,
    lang: str = "zh-Hans",
    answers: dict[str, str] | None = None,
    name: str | None = "王芳",
    phone: str | None = "+86 138 0013 8000",
    email: str | None = None,
    username: str | None = None,
    best_time: str | None = None,
    call_lang: str | None = None,
    source: str = "flyer-sh01",
    card: bool = True,
    mail: bool = False,
) -> str:
    """One referral, committed as the patient side commits it; returns its code."""
    conv = screened(lang, answers)
    engine = _engine()
    record: dict[str, Any] = conv.to_json()
    record["source"] = source
    outcome = conv.outcome
    assert outcome is not None
    async with store.turn(f"tg:{user_id}", None) as turn:
        turn.save(record, status="finished", chat_id=user_id)
        for fact, answer in conv.answers.items():
            turn.add_answer(fact, answer.value, answer.raw, answer.unit)
        turn.set_outcome(
            outcome["outcome"],
            failed=outcome["failed"],
            unknown=outcome["unknown"],
            flow_id=engine.flow.id,
            protocol_version=engine.flow.protocol,
        )
        turn.add_consent("health_processing", True, "wording", lang)
        turn.save_contact(
            name=name,
            phone=phone,
            email=email,
            username=username,
            best_time=best_time,
            call_lang=call_lang,
        )
        ref = turn.create_referral(outcome["outcome"])
        if card:
            turn.enqueue(REFERRAL_CARD, ref, {"ref": ref})
        if mail:
            turn.enqueue(REFERRAL_EMAIL, f"mail:{ref}", {"ref": ref})
    return ref

"""Replay scripted patients (profiles) through the real engine, one JSON line each.

A profile answers each question when it comes: an answer equal to one of the
question's option ids is a tap, anything else is typed text. When the bot asks for
something the profile does not hold (the unit of a bare number, a confirmation), the
replay answers as a patient sticking to the profile would: it confirms the deciding
answer, repeats its own words when asked for a unit it never gave, and says yes when
the bot offers its reading of a typed answer ("Do you mean: No?"), as a patient who
meant what they typed. Those answers are listed in the line's ``confirmed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.engine.answering import CHECK_SUFFIX, YES
from bot.engine.engine import Engine
from bot.engine.events import Event, Reply
from bot.engine.machine import ALERTS, CONFIRM_PREFIX, CONSENT, DONE

MAX_EVENTS = 200  # a profile can never need more; guards against a loop


class ReplayError(Exception):
    """A profile could not be run to an outcome."""


def run_profile(engine: Engine, profile: dict[str, Any]) -> dict[str, Any]:
    """Run one profile; return its result line (outcome, failed, unknown) as a dict."""
    pid = profile.get("id")
    answers = profile.get("answers")
    if not isinstance(answers, dict):
        raise ReplayError("profile has no 'answers' object")
    conv = engine.new(str(profile.get("language") or "en"))
    engine.handle(conv, Event.start())
    replies = engine.handle(conv, Event.tap(CONSENT, "agree")).replies  # they came to be screened
    tries: dict[str, int] = {}
    for _ in range(MAX_EVENTS):
        if conv.outcome is not None or conv.state in (DONE, ALERTS):
            break
        last = _last_question(replies)
        if conv.state.startswith(CONFIRM_PREFIX):
            event = Event.tap(conv.state, "confirm")
        elif conv.proposed is not None:
            event = Event.tap(conv.state + CHECK_SUFFIX, YES)
        else:
            qid = conv.state
            if qid not in answers:
                raise ReplayError(f"no answer for {qid}")
            tries[qid] = tries.get(qid, 0) + 1
            if tries[qid] > 2:
                raise ReplayError(f"the bot could not accept the answer for {qid}")
            event = _event_for(answers[qid], last)
        replies = engine.handle(conv, event).replies
    else:
        raise ReplayError("the conversation did not end")
    outcome = conv.outcome or {}
    line = {
        "id": pid,
        "outcome": outcome.get("outcome"),
        "failed": list(outcome.get("failed", [])),
        "unknown": list(outcome.get("unknown", [])),
    }
    confirmed = [f for f in conv.history if f in conv.answers and conv.answers[f].confirmed]
    if confirmed:
        line["confirmed"] = confirmed
    return line


def _last_question(replies: list[Reply]) -> Reply | None:
    return next((r for r in reversed(replies) if r.step), None)


def _event_for(answer: Any, question: Reply | None) -> Event:
    text = str(answer)
    if question is not None and any(c.id == text for c in question.choices):
        return Event.tap(question.step, text)
    return Event.say(text)


def replay_files(engine: Engine, paths: Iterable[Path]) -> tuple[list[str], bool]:
    """Replay every file; return the JSON lines and whether all of them ran cleanly."""
    lines, ok = [], True
    for path in paths:
        line: dict[str, Any]
        try:
            profile = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(profile, dict):
                raise ReplayError("a profile must be a JSON object")
        except (OSError, ValueError) as exc:
            line, ok = (
                {"id": Path(path).stem, "error": f"cannot read profile: {_short(exc)}"},
                False,
            )
        except ReplayError as exc:
            line, ok = {"id": Path(path).stem, "error": str(exc)}, False
        else:
            try:
                line = run_profile(engine, profile)
            except ReplayError as exc:
                line, ok = {"id": profile.get("id", Path(path).stem), "error": str(exc)}, False
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines, ok


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]

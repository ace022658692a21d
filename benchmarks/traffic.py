"""Synthetic Telegram traffic: whole screenings, as raw Bot API update JSON.

One script is made by running the real engine once: the patient opens the bot with
``/start``, agrees, answers every question of the eligible profile (``ELIGIBLE`` below, in the
style of ``tests/conftest.py``) by tapping the question's buttons or, for every third choice
question and for every number, by typing; goes back once with ``/back`` and answers again;
then agrees to share their details and gives a phone number, a name, a best time and a call
language. Every user of a run plays that script; taps carry the question message they were
pressed on (text and inline keyboard), as Telegram sends them.

Updates of many users are interleaved, as they arrive when many people are answering at once:
round-robin over a window of active conversations, each user's updates in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.stub import BOT_USER, DATE
from bot.channels.telegram.markup import callback_data, keyboard
from bot.engine.engine import Engine
from bot.engine.events import Event, Reply, Result
from bot.engine.machine import DONE
from tests.conftest import ELIGIBLE_EN

#: The eligible profile of the tests (tests/conftest.py ELIGIBLE_EN) and the handoff steps.
ELIGIBLE: dict[str, str] = {
    **ELIGIBLE_EN,
    "share": "yes",
    "phone": "+86 138 0013 8000",
    "name": "Li Wei",
    "email": "skip",
    "best_time": "morning",
    "call_lang": "en",
}
TYPED_CHOICE_EVERY = 3  # every third choice question is answered by typing the word
GO_BACK_AFTER = "hba1c"  # /back once, after this answer, and answer it again


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the patient does."""

    kind: Literal["command", "text", "tap"]
    text: str = ""  # the command or the typed text
    data: str = ""  # tap: the button's callback data
    message: dict[str, Any] | None = None  # tap: the bot's message the button is on


def _asked(result: Result) -> Reply | None:
    return next((r for r in reversed(result.replies) if r.step), None)


def _message(reply: Reply) -> dict[str, Any]:
    """The bot's message carrying ``reply``'s buttons, as Telegram shows it in a callback."""
    markup = keyboard(reply)
    data: dict[str, Any] = {"message_id": 0, "date": DATE, "from": BOT_USER, "text": reply.text}
    if markup is not None:
        data["reply_markup"] = markup.to_dict()
    return data


def script(engine: Engine, lang: str = "en") -> list[Step]:
    """Return the steps of one whole screening, checked against the engine as it goes."""
    conv = engine.new(lang)
    steps: list[Step] = []
    choices_seen = 0
    went_back = False

    def act(step: Step, event: Event) -> Result:
        steps.append(step)
        return engine.handle(conv, event)

    result = act(Step("command", "/start"), Event.start())
    for _ in range(200):
        if conv.state == DONE:
            return steps
        asked = _asked(result)
        state = conv.state
        if asked is None or asked.step != state:
            raise RuntimeError(f"script: nothing asked at {state}")
        value = "agree" if state == "consent" else ELIGIBLE[state]
        options = {c.id for c in asked.choices}
        before = state
        if value in options:
            choices_seen += 1
            typed = asked.expects == "choice" and choices_seen % TYPED_CHOICE_EVERY == 0
            if typed:
                label = next(c.label for c in asked.choices if c.id == value)
                result = act(Step("text", label), Event.say(label))
            else:
                data = callback_data(asked.step, value)
                result = act(
                    Step("tap", data=data, message=_message(asked)), Event.tap(state, value)
                )
        else:
            result = act(Step("text", value), Event.say(value))
        if conv.state == before:
            raise RuntimeError(f"script: the answer to {before} was not taken")
        if before == GO_BACK_AFTER and not went_back:
            went_back = True
            result = act(Step("command", "/back"), Event.cmd("back"))
    raise RuntimeError("script: the screening did not end")


def _user(user_id: int, lang: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Patient", "language_code": lang}


def _chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Patient"}


def update_json(step: Step, user_id: int, update_id: int, lang: str = "en") -> bytes:
    """The raw JSON Telegram would send for ``step`` by ``user_id``."""
    if step.kind == "tap":
        assert step.message is not None
        message = {**step.message, "message_id": update_id, "chat": _chat(user_id)}
        update: dict[str, Any] = {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id),
                "from": _user(user_id, lang),
                "message": message,
                "chat_instance": str(-user_id),
                "data": step.data,
            },
        }
    else:
        message = {
            "message_id": update_id,
            "date": DATE,
            "chat": _chat(user_id),
            "from": _user(user_id, lang),
            "text": step.text,
        }
        if step.kind == "command":
            length = len(step.text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        update = {"update_id": update_id, "message": message}
    return json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Item:
    """One update of a stream: its chat (= user) id, its update id and its raw JSON."""

    chat_id: int
    update_id: int
    raw: bytes


class Traffic:
    """Hands out fresh users and update ids, so every stream is new to the store."""

    def __init__(self, steps: list[Step], *, first_user: int = 10_000_000, window: int = 200):
        self.steps = steps
        self.window = window
        self.next_user = first_user
        self.next_update = 1

    def users(self, count: int) -> list[int]:
        first = self.next_user
        self.next_user += count
        return list(range(first, first + count))

    def stream(self, updates: int, *, steps: list[Step] | None = None) -> list[Item]:
        """About ``updates`` updates (whole scripts), interleaved over the active window."""
        steps = steps or self.steps
        users = self.users(max(1, round(updates / len(steps))))
        return list(self._interleave(users, steps))

    def _interleave(self, users: list[int], steps: list[Step]) -> Iterator[Item]:
        for start in range(0, len(users), self.window):
            group = users[start : start + self.window]
            for step in steps:
                for user in group:
                    uid = self.next_update
                    self.next_update += 1
                    yield Item(user, uid, update_json(step, user, uid))

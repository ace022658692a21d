"""What each patient of a campaign does: a whole screening from a real profile.

The profiles are the study team's examples and the everyday profiles (``tests/data``), in six
languages. Each is run once through the real engine, as ``bot replay`` runs it, from ``/start``
to the end of the handoff (an eligible patient agrees to share, gives a phone number, a name,
a best time and a call language). A step records what the patient does (a command, typed
text, or a tap on a button of the last question) and how many messages the bot sends back
(its replies as the Telegram adapter cuts them), so a simulated patient knows when the whole
reply has arrived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.channels.telegram.markup import callback_data, chunks, question_html
from bot.engine.answering import CHECK_SUFFIX, YES
from bot.engine.engine import Engine
from bot.engine.events import Event, Reply, Result
from bot.engine.machine import CONFIRM_PREFIX, CONSENT, DONE
from bot.i18n import negotiate

ROOT = Path(__file__).resolve().parent.parent
PROFILES = (ROOT / "tests" / "data" / "examples", ROOT / "tests" / "data" / "everyday")
#: How a patient who shares their details answers the handoff steps (as benchmarks/traffic.py).
HANDOFF = {
    "share": "yes",
    "phone": "+86 138 0013 8000",
    "name": "Li Wei",
    "email": "skip",
    "best_time": "morning",
    "call_lang": "en",
    "alerts": "no",  # after an ineligible outcome: no news of other studies
}
MAX_STEPS = 200


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the patient does, and the messages the bot sends back."""

    kind: Literal["command", "text", "tap"]
    text: str  # the command or the typed text ("" for a tap)
    data: str  # a tap's callback data ("" otherwise)
    messages: int  # sendMessage calls the bot makes in reply


@dataclass(frozen=True, slots=True)
class Script:
    """A profile's whole screening."""

    profile: str
    language: str  # the Telegram language_code the patient's app sends
    steps: tuple[Step, ...]
    outcome: str
    shares: bool  # reaches the handoff and shares their details (a team card follows)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.steps)


def messages(result: Result) -> int:
    """The sendMessage calls the Telegram adapter makes for ``result``."""
    return sum(len(chunks(question_html(r))) for r in result.replies)


def _asked(result: Result) -> Reply | None:
    return next((r for r in reversed(result.replies) if r.step), None)


def _event(value: str, asked: Reply | None) -> tuple[Literal["text", "tap"], Event, str]:
    if asked is not None and any(c.id == value for c in asked.choices):
        return "tap", Event.tap(asked.step, value), callback_data(asked.step, value)
    return "text", Event.say(value), ""


def script(engine: Engine, profile: dict[str, Any]) -> Script:
    """Run ``profile`` through ``engine``; return its steps. Raise ValueError when it cannot
    be run to the end by a patient sticking to the profile."""
    language = str(profile.get("language") or "en").replace("_", "-")
    answers: dict[str, Any] = {**HANDOFF, **profile["answers"]}
    conv = engine.new(negotiate(language))
    steps: list[Step] = []
    result = engine.handle(conv, Event.start())
    steps.append(Step("command", "/start", "", messages(result)))
    tries: dict[str, int] = {}
    for _ in range(MAX_STEPS):
        if conv.state == DONE:
            break
        asked = _asked(result)
        state = conv.state
        if state == CONSENT:
            value = "agree"
        elif state.startswith(CONFIRM_PREFIX):
            value = "confirm"
        elif conv.proposed is not None:
            state, value = state + CHECK_SUFFIX, YES
        else:
            if state not in answers:
                raise ValueError(f"{profile.get('id')}: no answer for {state}")
            value = str(answers[state])
        tries[state] = tries.get(state, 0) + 1
        if tries[state] > 3:
            raise ValueError(f"{profile.get('id')}: the answer for {state} is not taken")
        kind, event, data = _event(value, asked)
        result = engine.handle(conv, event)
        steps.append(Step(kind, "" if kind == "tap" else value, data, messages(result)))
    else:
        raise ValueError(f"{profile.get('id')}: the screening did not end")
    outcome = (conv.outcome or {}).get("outcome", "")
    shares = any(s.data == callback_data("share", "yes") for s in steps)
    return Script(str(profile.get("id")), language, tuple(steps), str(outcome), shares)


def profile_paths() -> list[Path]:
    """The profile files, in a fixed order."""
    return [path for folder in PROFILES for path in sorted(folder.rglob("*.json"))]


class Scripts:
    """Each profile's script, made when first asked for (running the engine over all 225
    profiles takes a while) and kept for the process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.paths = [p for p in profile_paths() if "answers" in _read(p)]
        self._made: dict[Path, Script] = {}

    def __getitem__(self, index: int) -> Script:
        path = self.paths[index]
        if path not in self._made:
            self._made[path] = script(self.engine, _read(path))
        return self._made[path]

    def __len__(self) -> int:
        return len(self.paths)


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}

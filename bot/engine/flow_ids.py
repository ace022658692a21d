"""What a question or option id in a flow may be: it names a state of the engine's machine
and travels in a button, so it must not clash with the engine's own steps and must fit the
channels' button data.

A question id is a state of the flow's machine (beside ``consent``, ``done`` and the other
engine steps) and the step of its buttons, also as ``confirm:<id>``, ``<id>#check`` and
``<id>#unit``. Telegram carries a tap as ``a|<step>|<option>`` in at most 64 bytes
(``bot/channels/telegram/markup.py``), with steps of at most 48 and options of at most 24
characters. A question id is therefore lower-case letters, digits and ``_``, starting with
a letter, at most :data:`MAX_QUESTION_ID` characters; an option id letters, digits, ``_``
and ``-``, at most :data:`MAX_OPTION_ID`.
"""

from __future__ import annotations

import re

from bot.engine.errors import FlowError

#: Every step name the engine uses itself (the machine's states beside the questions, the
#: contact steps and the menus). ``tests/test_flow_ids.py`` checks that this is all of them.
RESERVED_STEPS = frozenset(
    {
        "consent",
        "declined",
        "alerts",
        "share",
        "done",
        "phone",
        "name",
        "email",
        "best_time",
        "call_lang",
        "language",
        "delete",
    }
)
MAX_QUESTION_ID = 32
MAX_OPTION_ID = 24
MAX_CALLBACK_BYTES = 64  # Telegram's limit on a button's data
_QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_OPTION_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def check_question_id(qid: str, where: str, source: str) -> None:
    """Raise FlowError when ``qid`` clashes with an engine step or cannot travel in a button."""
    if qid in RESERVED_STEPS:
        raise FlowError(source, where, f"{qid!r} is a step of the engine; choose another id")
    if not _QUESTION_ID.match(qid):
        raise FlowError(
            source,
            where,
            "a question id is lower-case letters, digits and '_', starting with a letter",
        )
    if len(qid) > MAX_QUESTION_ID:
        raise FlowError(source, where, f"a question id has at most {MAX_QUESTION_ID} characters")


def check_option_id(qid: str, oid: str, where: str, source: str) -> None:
    """Raise FlowError when option ``oid`` of question ``qid`` cannot travel in a button."""
    if not _OPTION_ID.match(oid) or len(oid) > MAX_OPTION_ID:
        raise FlowError(
            source,
            where,
            f"option {oid!r}: an option id is letters, digits, '_' and '-', "
            f"at most {MAX_OPTION_ID} characters",
        )
    data = f"a|{qid}|{oid}"  # a tap on the question's own step
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise FlowError(source, where, f"option {oid!r} does not fit in a button's data")

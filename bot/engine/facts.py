"""A read-only view of a conversation's answers, as the rules see them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from bot.engine.record import Answer
from bot.engine.spans import Span


class Fact(Enum):
    """Where a fact stands in a conversation."""

    ANSWERED = "answered"
    PENDING = "pending"  # not answered yet, and may still be asked
    SKIPPED = "skipped"  # never asked: its condition is false (counts as "not yes")


UNKNOWN = "unknown"


class FactView:
    """Answers filtered through the flow's conditions.

    An answer whose question is no longer asked (the patient went back and changed
    their sex, say) is ignored, so the outcome depends only on the answers that count.
    """

    __slots__ = ("_asked_when", "_status", "_values", "verdicts")

    def __init__(
        self,
        answers: Mapping[str, Answer],
        asked_when: Mapping[str, Callable[[FactView], bool | None]],
    ) -> None:
        self._values = {fact: answer.value for fact, answer in answers.items()}  # a snapshot
        self._asked_when = asked_when
        self._status: dict[str, Fact] = {}
        self.verdicts: dict[str, Any] | None = None  # the criteria's verdicts, once evaluated

    def same_answers(self, answers: Mapping[str, Answer]) -> bool:
        """Return True when ``answers`` hold exactly the values this view was made from."""
        values = self._values
        if len(answers) != len(values):
            return False
        return all(values.get(fact) == answer.value for fact, answer in answers.items())

    def status(self, fact: str) -> Fact:
        """Return whether ``fact`` is answered, still pending, or skipped."""
        cached = self._status.get(fact)
        if cached is not None:
            return cached
        condition = self._asked_when.get(fact)
        asked = True if condition is None else condition(self)
        if asked is False:
            result = Fact.SKIPPED
        elif fact in self._values and asked is True:
            result = Fact.ANSWERED
        else:
            result = Fact.PENDING
        self._status[fact] = result
        return result

    def value(self, fact: str) -> str | None:
        """Return the answer's value when the fact is answered, else None."""
        if self.status(fact) is not Fact.ANSWERED:
            return None
        return self._values[fact]

    def span(self, fact: str) -> Span | None:
        """Return a measurement as a range (a point, or a bound's ray), or None when unknown
        or not answered."""
        value = self.value(fact)
        if value is None or value == UNKNOWN:
            return None
        return Span.parse(value)

"""Answers to the flow's questions: taps, typed text, units, and readings to confirm.

A typed answer is read by :mod:`bot.engine.understanding` into a ``Reading``:
``understood`` is taken; ``confirm`` is offered back as one tap ("Do you mean: No?"),
kept in ``Conversation.proposed`` until the patient says yes (the answer is taken,
marked confirmed), no (the question is asked again), or types a new answer;
``unclear`` is asked again, saying what went wrong. A bare number whose unit cannot
be told is kept in ``Conversation.pending`` while the bot asks for the unit.
"""

from __future__ import annotations

from dataclasses import replace

from bot.engine import readback
from bot.engine.events import Choice, Event, Reply, Result
from bot.engine.flow import DONT_KNOW, Flow, Question
from bot.engine.record import Answer, Conversation
from bot.engine.render import Renderer
from bot.engine.spans import bounded_value
from bot.engine.understanding import Reading, read_choice, read_measurement

UNIT_SUFFIX = "#unit"  # the step of the buttons asking for a bare number's unit
CHECK_SUFFIX = "#check"  # the step of the buttons confirming a reading ("Do you mean ...?")
YES, NO = "yes", "no"
HINT_AFTER_RETRIES = 2


class Answering:
    """Turn events at a question into an answer to commit, or replies asking again."""

    def __init__(self, flow: Flow, render: Renderer) -> None:
        self.flow = flow
        self.render = render

    # -- what the patient sees at a question ----------------------------------------------

    def prompt(self, conv: Conversation, question: Question) -> Reply:
        """Return what the question waits for: a reading to confirm, a unit, or the question."""
        if conv.proposed is not None:
            return self.check_question(conv, question, conv.proposed)
        if conv.pending:
            return self.render.unit_question(conv, question, conv.pending)
        return self.render.question(conv, question)

    def check_labels(self, conv: Conversation, question: Question) -> list[tuple[str, str]]:
        """Return the answers to "Do you mean ...?": Yes, No, and the question's "I don't know"."""
        labels = self.render.yes_no(conv)
        known = dict(self.render.option_labels(conv, question))
        if DONT_KNOW in known:
            labels.append((DONT_KNOW, known[DONT_KNOW]))
        return labels

    def check_question(self, conv: Conversation, question: Question, proposed: Answer) -> Reply:
        """Offer the bot's reading of a typed answer, to be confirmed with one tap."""
        t = self.render.t(conv)
        shown = readback.proposal_text(t, question, proposed, conv.lang)
        choices = tuple(Choice(i, label) for i, label in self.check_labels(conv, question))
        return Reply(
            t.gettext("Do you mean: {answer}?", answer=shown),
            kind="confirm",
            choices=choices,
            expects="choice",
            step=question.id + CHECK_SUFFIX,
        )

    # -- taps --------------------------------------------------------------------------------

    def tapped(
        self, conv: Conversation, question: Question, event: Event, result: Result
    ) -> Answer | None:
        """Take a tapped option of the question, of its unit question or of its check."""
        if conv.proposed is not None and event.step == question.id + CHECK_SUFFIX:
            return self._checked(conv, question, event.option, result)
        expected = question.id + UNIT_SUFFIX if conv.pending else question.id
        if event.step == expected and conv.pending:
            if event.option in self._pending_units(conv, question):
                return self._measured(conv, question, conv.pending["raw"], event.option, result)
        elif event.step == expected and event.option in question.option_ids:
            conv.proposed = None
            return Answer(event.option)
        self._stale(conv, question, result)
        return None

    def _checked(
        self, conv: Conversation, question: Question, choice: str, result: Result
    ) -> Answer | None:
        proposed = conv.proposed
        assert proposed is not None
        if choice == YES:
            conv.proposed = None
            return replace(proposed, confirmed=True)
        if choice == DONT_KNOW and DONT_KNOW in question.option_ids:
            conv.proposed = None
            return Answer(DONT_KNOW, raw=proposed.raw)
        if choice == NO:
            conv.proposed = None
            result.replies.append(self.render.going_back(conv, question, None))
            result.replies.append(self.render.question(conv, question))
            return None
        self._stale(conv, question, result)
        return None

    def _stale(self, conv: Conversation, question: Question, result: Result) -> None:
        result.replies.append(self.render.stale_button(conv))
        result.replies.append(self.prompt(conv, question))

    # -- typed text --------------------------------------------------------------------------

    def typed(
        self, conv: Conversation, question: Question, text: str, result: Result
    ) -> Answer | None:
        """Read typed text at the question: take it, offer it to confirm, or ask again."""
        if conv.proposed is not None:
            return self._typed_at_check(conv, question, text, result)
        if conv.pending:
            return self._typed_unit(conv, question, text, result)
        if question.kind == "choice":
            reading = self._read_option(conv, question, text)
            answer = Answer(reading.option, raw=text.strip()) if reading.option else None
            if self._took(conv, question, reading, answer, result):
                return answer
            if conv.proposed is None:
                problem = self.render.not_understood(conv, reading, text)
                self.retry(conv, question, problem, result)
            return None
        return self._measured(conv, question, text, None, result)

    def _took(
        self,
        conv: Conversation,
        question: Question,
        reading: Reading,
        answer: Answer | None,
        result: Result,
    ) -> bool:
        """Return True for an understood answer; offer a reading to confirm (False)."""
        if answer is None or reading.status == "unclear":
            return False
        if reading.status == "confirm":
            conv.proposed = answer
            result.replies.append(self.check_question(conv, question, answer))
            return False
        return True

    def _measured(
        self,
        conv: Conversation,
        question: Question,
        text: str,
        forced_unit: str | None,
        result: Result,
    ) -> Answer | None:
        assert question.measure is not None
        number = (conv.pending or {}).get("number") if forced_unit else None
        conv.pending = None
        if forced_unit is None and self._says_dont_know(conv, question, text):
            return Answer(DONT_KNOW, raw=text.strip())
        reading = self._read_in(conv, question, text, forced_unit, number)
        answer = self._measured_answer(question, reading, text)
        if self._took(conv, question, reading, answer, result):
            return answer
        if conv.proposed is not None:
            return None
        measured = reading.measured
        if measured is not None and measured.status == "need_unit":
            conv.pending = {"raw": text.strip(), "units": " ".join(measured.choices)}
            if measured.number is not None:
                conv.pending["number"] = format(measured.number, "f")
            result.replies.append(self.render.unit_question(conv, question, conv.pending))
            return None
        problem = self.render.measurement_problem(conv, question, reading, text)
        self.retry(conv, question, problem, result)
        return None

    def _read_in(
        self,
        conv: Conversation,
        question: Question,
        text: str,
        unit: str | None,
        number: str | None,
    ) -> Reading:
        """Read a measurement, in ``unit`` when the patient chose one for a bare ``number``.

        A unit word that can mean two units (斤 in zh-Hant: 台斤 or 市斤) stays in the
        words, so the chosen unit is applied to the number itself.
        """
        assert question.measure is not None
        reading = read_measurement(text, question.measure, conv.lang, unit)
        measured = reading.measured
        if unit is None or number is None or measured is None or measured.unit in (None, unit):
            return reading
        return read_measurement(number, question.measure, conv.lang, unit)

    def _pending_units(self, conv: Conversation, question: Question) -> tuple[str, ...]:
        """Return the units offered for the bare number waiting for one."""
        assert question.measure is not None
        offered = (conv.pending or {}).get("units", "").split()
        return tuple(offered) or question.measure.ask

    def _measured_answer(self, question: Question, reading: Reading, text: str) -> Answer | None:
        measured = reading.measured
        if measured is None:
            return None
        if measured.status == "unknown" and DONT_KNOW in question.option_ids:
            return Answer(DONT_KNOW, raw=text.strip())
        if measured.status != "ok" or measured.value is None:
            return None
        value = bounded_value(measured.value, measured.bound)
        return Answer(value, raw=text.strip(), unit=measured.unit or "")

    def _says_dont_know(self, conv: Conversation, question: Question, text: str) -> bool:
        if DONT_KNOW not in question.option_ids:
            return False
        reading = self._read_option(conv, question, text)
        return reading.status == "understood" and reading.option == DONT_KNOW

    def _read_option(self, conv: Conversation, question: Question, text: str) -> Reading:
        """Read typed text against the question's options, with the question as it was read."""
        asked = self.render.t(conv).pgettext(question.id, question.text)
        labels = self.render.option_labels(conv, question)
        return read_choice(text, labels, conv.lang, question=asked)

    def _typed_unit(
        self, conv: Conversation, question: Question, text: str, result: Result
    ) -> Answer | None:
        """Typed text while the bot asks for a bare number's unit.

        A whole answer ("61 kg", "I don't know", another bare number) replaces the
        number; a unit ("kg", or a unit word like "斤") completes it.
        """
        assert question.measure is not None and conv.pending is not None
        raw = conv.pending["raw"]
        spec, lang = question.measure, conv.lang
        fresh = read_measurement(text, spec, lang)
        labels = self.render.unit_labels(conv, self._pending_units(conv, question))
        unit = read_choice(text, labels, lang)
        if not _ok(fresh) and unit.status == "understood" and unit.option is not None:
            return self._measured(conv, question, raw, unit.option, result)
        if text.strip() == raw:
            self.retry(conv, question, self.render.unit_needed(conv, question), result)
            return None
        completes = not _ok(fresh) and _ok(read_measurement(f"{raw} {text}", spec, lang))
        typed = f"{raw} {text.strip()}" if completes else text
        return self._measured(conv, question, typed, None, result)

    def _typed_at_check(
        self, conv: Conversation, question: Question, text: str, result: Result
    ) -> Answer | None:
        """Typed text while a reading waits: yes, no, "I don't know", or a new answer.

        On a yes/no question the words for the check and for the answer are the same:
        "yes" to "Do you mean: No?" could mean either, so the bot asks for a tap.
        """
        proposed = conv.proposed
        assert proposed is not None
        check = read_choice(text, self.check_labels(conv, question), conv.lang)
        said = check.option if check.status == "understood" else None
        if said is None:
            conv.proposed = None
            return self.typed(conv, question, text, result)
        fresh = self._understood(conv, question, text) if said in (YES, NO) else None
        if fresh is not None and (fresh.value == proposed.value) != (said == YES):
            result.replies.append(self.render.please_choose(conv))
            result.replies.append(self.check_question(conv, question, proposed))
            return None
        return self._checked(conv, question, said, result)

    def _understood(self, conv: Conversation, question: Question, text: str) -> Answer | None:
        """Return the answer ``text`` gives to the question when it is understood, else None."""
        if question.kind == "choice":
            reading = self._read_option(conv, question, text)
            if reading.status == "understood" and reading.option is not None:
                return Answer(reading.option, raw=text.strip())
            return None
        assert question.measure is not None
        if self._says_dont_know(conv, question, text):
            return Answer(DONT_KNOW, raw=text.strip())
        reading = read_measurement(text, question.measure, conv.lang)
        if reading.status != "understood":
            return None
        return self._measured_answer(question, reading, text)

    # -- asking again ------------------------------------------------------------------------

    def retry(self, conv: Conversation, question: Question, problem: str, result: Result) -> None:
        """Say what went wrong (with a hint after repeated tries) and ask again."""
        conv.retries += 1
        hint = conv.retries >= HINT_AFTER_RETRIES
        result.replies.append(self.render.problem(conv, question, problem, hint=hint))
        result.replies.append(self.prompt(conv, question))


def _ok(reading: Reading) -> bool:
    return reading.measured is not None and reading.measured.status == "ok"

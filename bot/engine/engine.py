"""The conversation engine: one inbound event for a conversation in, replies out.

It sends nothing and stores nothing. The caller loads the conversation record,
calls :meth:`Engine.handle`, commits the record and ``Result`` changes, and only
then sends ``Result.replies``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.engine.answering import Answering
from bot.engine.consent import ConsentSteps
from bot.engine.events import OTHER_EDITED, AlertsChoice, Decision, Event, Outcome, Reply, Result
from bot.engine.flow import Flow, Question
from bot.engine.machine import ALERTS, CONFIRM_PREFIX, CONSENT, DECLINED, DONE, FlowMachine
from bot.engine.policy import DataPolicy
from bot.engine.record import Answer, Conversation
from bot.engine.reference import new_reference
from bot.engine.render import Renderer
from bot.engine.rules import Verdict
from bot.engine.safety import SafetyLayer
from bot.engine.understanding import read_choice
from bot.i18n import LANGUAGES, Catalogs, get_catalogs, negotiate

LANGUAGE_STEP = "language"
DELETE_STEP = "delete"
ERASE, KEEP = "erase", "keep"
CONFIRM, CHANGE = "confirm", "change"
YES, NO = "yes", "no"


class Engine:
    """Runs conversations of one flow; holds no per-conversation state."""

    def __init__(
        self,
        flow: Flow,
        catalogs: Catalogs | None = None,
        *,
        policy: DataPolicy | None = None,
        contact_promise_days: int = 2,
        new_ref: Callable[[], str] = new_reference,
        typed: bool = False,
        call_languages: Sequence[str] = (),
    ) -> None:
        self.flow = flow
        self.machine = FlowMachine(flow)
        self.render = Renderer(flow, catalogs or get_catalogs(), policy, typed=typed)
        if call_languages:
            self.render.call_languages = tuple(call_languages)
        self.consent = ConsentSteps(self.machine, self.render, new_ref, contact_promise_days)
        self.safety = SafetyLayer(flow.safety, self.render)
        self.answering = Answering(flow, self.render)

    # -- entry points ----------------------------------------------------------------

    def new(self, lang: str, source: str = "") -> Conversation:
        """Return a fresh conversation record, asking for consent first."""
        return Conversation(
            flow_id=self.flow.id,
            flow_version=str(self.flow.version),
            lang=negotiate(lang),
            state=CONSENT,
            source=source,
        )

    def handle(self, conv: Conversation, event: Event) -> Result:
        """Apply one event to ``conv`` (in place) and return the replies and changes."""
        result = Result()
        seen = self.safety.before(conv, event)  # urgent words typed: advice first, then the step
        if event.kind == "start":
            self._start(conv, event, result)
        elif event.kind == "command":
            self._command(conv, event, result)
        elif event.kind == "tap" and event.step == LANGUAGE_STEP:
            self._set_language(conv, event.option, result)
        elif event.kind == "tap" and event.step == DELETE_STEP:
            self._delete(conv, event.option, result)
        elif event.kind == "other":
            result.replies.append(self.render.cannot_read(conv, edited=event.arg == OTHER_EDITED))
            self._reprompt(conv, result)
        elif self.consent.owns(conv.state):
            self.consent.handle(conv, event, result, self._first_question)
        elif conv.state == DONE:
            result.replies.append(self.render.finished(conv))
        elif conv.state == ALERTS:
            self._alerts(conv, event, result)
        elif conv.state.startswith(CONFIRM_PREFIX):
            self._confirm(conv, event, result)
        else:
            self._answer(conv, event, result)
        self.safety.after(conv, result, seen, self._reprompt)
        return result

    def knows_state(self, state: str) -> bool:
        """Return True when ``state`` is a state of this flow's machine."""
        return state in self.machine.machine.states

    def prompt(self, conv: Conversation) -> Result:
        """Return the current question again (after a restart of the process, say)."""
        result = Result()
        self._reprompt(conv, result)
        return result

    # -- commands --------------------------------------------------------------------

    def _start(self, conv: Conversation, event: Event, result: Result) -> None:
        if event.arg:
            conv.lang = negotiate(event.arg)
        if conv.state == DECLINED:
            self.machine.trigger(conv, "reconsider")
        if conv.state == CONSENT:
            result.replies.append(self.render.welcome(conv))
            result.replies.append(self.consent.prompt(conv))
            return
        result.replies.append(self.render.welcome_back(conv))
        self._reprompt(conv, result, event.profile_name)

    def _first_question(self, conv: Conversation) -> Reply:
        return self.render.question(conv, self.flow.questions[0])

    def _reset(self, conv: Conversation, result: Result) -> None:
        result.withdrawn.extend(conv.answers)
        conv.answers.clear()
        conv.history.clear()
        conv.pending, conv.proposed, conv.outcome = None, None, None
        conv.retries, conv.contact = 0, None
        conv.state = self.flow.questions[0].id if conv.agreed else CONSENT

    def _command(self, conv: Conversation, event: Event, result: Result) -> None:
        if event.command == "restart":
            self._reset(conv, result)
            result.restarted = True
            result.replies.append(self.render.restarted(conv))
            self._reprompt(conv, result)
        elif event.command == "back":
            self._back(conv, result)
        elif event.command == "faq":
            result.replies.append(self.render.faq(conv))
            self._reprompt(conv, result)
        elif event.command == "privacy":
            result.replies.append(self.render.privacy(conv))
            self._reprompt(conv, result)
        elif event.command == "delete":
            result.replies.append(self.render.delete_question(conv, DELETE_STEP))
        elif event.command == "language":
            if event.arg:
                self._set_language(conv, event.arg, result)
            else:
                result.replies.append(self.render.language_menu(conv, LANGUAGE_STEP))
        else:
            result.replies.append(self.render.help(conv))
            self._reprompt(conv, result)

    def _back(self, conv: Conversation, result: Result) -> None:
        if conv.outcome and conv.outcome.get("ref"):
            result.replies.append(self.render.already_handed_off(conv))
            return
        if self.consent.back(conv, result):
            return
        if not conv.history:
            result.replies.append(self.render.nothing_to_undo(conv))
            self._reprompt(conv, result)
            return
        qid = conv.history.pop()
        previous = conv.answers.pop(qid, None)
        result.withdrawn.append(qid)
        conv.state, conv.pending, conv.proposed, conv.outcome = qid, None, None, None
        conv.retries, conv.contact = 0, None
        question = self.flow.question(qid)
        result.replies.append(self.render.going_back(conv, question, previous))
        result.replies.append(self.render.question(conv, question))

    def _delete(self, conv: Conversation, choice: str, result: Result) -> None:
        if choice != ERASE:
            result.replies.append(self.render.nothing_deleted(conv))
            self._reprompt(conv, result)
            return
        result.erase = True
        conv.agreed, conv.source = False, ""
        self._reset(conv, result)
        result.replies.append(self.render.deleted(conv))

    def _set_language(self, conv: Conversation, tag: str, result: Result) -> None:
        lang = negotiate(tag)
        if tag not in LANGUAGES and lang == "en" and not tag.lower().startswith("en"):
            result.replies.append(self.render.language_menu(conv, LANGUAGE_STEP))
            return
        conv.lang = lang
        result.replies.append(self.render.language_set(conv))
        self._reprompt(conv, result)

    def _reprompt(self, conv: Conversation, result: Result, profile_name: str = "") -> None:
        if self.consent.owns(conv.state):
            result.replies.append(self.consent.prompt(conv, profile_name))
        elif conv.state == DONE:
            result.replies.append(self.render.finished(conv))
        elif conv.state == ALERTS:
            result.replies.append(self.render.alerts_offer(conv, ALERTS))
        elif conv.state.startswith(CONFIRM_PREFIX):
            question = self.flow.question(conv.state.removeprefix(CONFIRM_PREFIX))
            result.replies.append(self.render.confirm(conv, question, self._failing(conv)))
        else:
            result.replies.append(self.answering.prompt(conv, self.flow.question(conv.state)))

    # -- answering questions ---------------------------------------------------------

    def _answer(self, conv: Conversation, event: Event, result: Result) -> None:
        question = self.flow.question(conv.state)
        if event.kind == "tap":
            answer = self.answering.tapped(conv, question, event, result)
        else:
            answer = self._typed_answer(conv, question, event.text, result)
        if answer is not None:
            self._commit(conv, question, answer, result)

    def _typed_answer(
        self, conv: Conversation, question: Question, text: str, result: Result
    ) -> Answer | None:
        """Handle text typed at a question: every typed answer starts here."""
        return self.answering.typed(conv, question, text, result)

    def _commit(
        self, conv: Conversation, question: Question, answer: Answer, result: Result
    ) -> None:
        conv.answers[question.id] = answer
        conv.history.append(question.id)
        conv.pending, conv.proposed, conv.retries = None, None, 0
        result.answered.append((question.id, answer))
        self.machine.trigger(conv, "next")
        if conv.state.startswith(CONFIRM_PREFIX):
            result.replies.append(self.render.confirm(conv, question, self._failing(conv)))
        elif conv.state == DONE:
            self._decide(conv, result)
        else:
            result.replies.append(self.render.question(conv, self.flow.question(conv.state)))

    # -- early stop, outcome, alerts -------------------------------------------------

    def _failing(self, conv: Conversation) -> list[str]:
        verdicts = self.flow.evaluate(self.flow.view(conv.answers))
        return [cid for cid, verdict in verdicts.items() if verdict is Verdict.FAIL]

    def _confirm(self, conv: Conversation, event: Event, result: Result) -> None:
        question = self.flow.question(conv.state.removeprefix(CONFIRM_PREFIX))
        if event.kind == "tap":
            choice = event.option if event.step == conv.state else None
        else:
            labels = self.render.confirm_labels(conv)
            matched = self._read_choice(
                event.text, [(YES, labels[0][1]), (NO, labels[1][1])], conv.lang
            )
            choice = {YES: CONFIRM, NO: CHANGE}.get(matched or "")
        if choice == CONFIRM:
            self.machine.trigger(conv, "confirm")
            self._decide(conv, result)
        elif choice == CHANGE:
            self.machine.trigger(conv, "revise")
            if conv.history and conv.history[-1] == question.id:
                conv.history.pop()
            previous = conv.answers.pop(question.id, None)
            result.withdrawn.append(question.id)
            result.replies.append(self.render.going_back(conv, question, previous))
            result.replies.append(self.render.question(conv, question))
        else:
            if event.kind == "tap":
                result.replies.append(self.render.stale_button(conv))
            else:
                result.replies.append(self.render.please_choose(conv))
            result.replies.append(self.render.confirm(conv, question, self._failing(conv)))

    @staticmethod
    def _read_choice(text: str, labels: list[tuple[str, str]], lang: str) -> str | None:
        """Return the option typed text picks when it is understood beyond doubt, else None."""
        reading = read_choice(text, labels, lang)
        return reading.option if reading.status == "understood" else None

    def _decide(self, conv: Conversation, result: Result) -> None:
        verdicts = self.flow.evaluate(self.flow.view(conv.answers))
        failed = [cid for cid, v in verdicts.items() if v is Verdict.FAIL]
        unknown = [cid for cid, v in verdicts.items() if v is Verdict.UNKNOWN]
        decision: Decision
        if failed:
            decision = "likely_ineligible"
        elif unknown:
            decision = "needs_review"
        else:
            decision = "likely_eligible"
        outcome = Outcome(
            decision,
            tuple(failed),
            tuple(unknown),
            self.flow.id,
            self.flow.version,
            self.flow.protocol,
        )
        conv.outcome = outcome.to_record()
        result.outcome = outcome
        result.replies.append(self.render.ending(conv, decision, failed, unknown))
        if conv.state == ALERTS:
            result.replies.append(self.render.alerts_offer(conv, ALERTS))
        self.consent.offer(conv, result)

    def _alerts(self, conv: Conversation, event: Event, result: Result) -> None:
        if event.kind == "tap":
            choice = event.option if event.step == ALERTS else None
        else:
            choice = self._read_choice(event.text, self.render.alerts_labels(conv), conv.lang)
        if choice not in (YES, NO):
            result.replies.append(self.render.please_choose(conv))
            result.replies.append(self.render.alerts_offer(conv, ALERTS))
            return
        result.alerts = AlertsChoice(choice)
        wanted = result.alerts is AlertsChoice.OPT_IN
        wording = self.render.alerts_offer(conv, ALERTS).text
        result.consents.append(("trial_alerts", wanted, wording))
        if conv.outcome is not None:
            conv.outcome["alerts"] = choice
        self.machine.trigger(conv, "finish")
        result.replies.append(self.render.alerts_answered(conv, wanted))


def load_engine(
    flow_id: str = "nct06751199",
    catalogs: Catalogs | None = None,
    *,
    policy: DataPolicy | None = None,
    contact_promise_days: int = 2,
    typed: bool = False,
    call_languages: Sequence[str] = (),
) -> Engine:
    """Load ``flows/<flow_id>.yaml`` and build its engine (and its one Machine)."""
    from bot.engine.flow import flow_path, load_flow

    return Engine(
        load_flow(flow_path(flow_id)),
        catalogs,
        policy=policy,
        contact_promise_days=contact_promise_days,
        typed=typed,
        call_languages=call_languages,
    )

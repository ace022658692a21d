"""Every reply the engine gives, in the patient's language.

English source text is the message id. Flow texts are translated with their question
id as context (options with "option", criteria with "criterion:<id>", units with
"unit"); the YAML extractor puts them in the catalog with the same contexts.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.engine import answers, readback
from bot.engine.events import Choice, Reply, ask_choice
from bot.engine.flow import DONT_KNOW, Flow, Question
from bot.engine.notices import BULLET, Notices
from bot.engine.policy import N_, DataPolicy
from bot.engine.record import Answer, Conversation
from bot.engine.render_contact import ContactReplies
from bot.engine.understanding import Reading
from bot.i18n import Catalogs, Translator
from bot.i18n.languages import LANGUAGE_NAMES, SPOKEN_LANGUAGES


class Renderer(Notices, ContactReplies):
    """Build replies from the flow's texts and the catalogs."""

    def __init__(
        self,
        flow: Flow,
        catalogs: Catalogs,
        policy: DataPolicy | None = None,
        *,
        typed: bool = False,
    ) -> None:
        self.flow = flow
        self.catalogs = catalogs
        self.policy = policy or DataPolicy()
        self.typed = typed  # answers are typed numbers (terminal), not tapped buttons
        self.call_languages: tuple[str, ...] = tuple(SPOKEN_LANGUAGES)

    def t(self, conv: Conversation) -> Translator:
        """Return the translator for the conversation's language."""
        return self.catalogs.get(conv.lang)

    # -- the flow's own words --------------------------------------------------------

    def option_labels(self, conv: Conversation, question: Question) -> list[tuple[str, str]]:
        """Return ``(option id, label)`` pairs in the patient's language."""
        t = self.t(conv)
        return [(o.id, t.pgettext("option", o.label)) for o in question.options]

    def unit_labels(self, conv: Conversation, units: Sequence[str]) -> list[tuple[str, str]]:
        """Return ``(unit id, label)`` pairs in the patient's language."""
        t = self.t(conv)
        return [(u, t.pgettext("unit", answers.unit_label(u, "en"))) for u in units]

    def answer_text(self, conv: Conversation, question: Question, answer: Answer | None) -> str:
        """Return an answer as the patient gave it: their words, or the option's label."""
        if answer is None:
            return ""
        if answer.raw:
            return readback.words_read_as(self.t(conv), question, answer, conv.lang)
        labels = dict(self.option_labels(conv, question))
        return labels.get(answer.value, answer.value)

    def _progress(self, conv: Conversation) -> str:
        view = self.flow.view(conv.answers)
        done = sum(1 for q in conv.history if self.flow.has_question(q))
        remaining = sum(
            1
            for q in self.flow.questions
            if q.id not in conv.answers and view.status(q.id).value != "skipped"
        )
        return self.t(conv).gettext(
            "Question {n} of about {total}",
            n=self.t(conv).number(done + 1),
            total=self.t(conv).number(done + max(remaining, 1)),
        )

    def question(self, conv: Conversation, question: Question) -> Reply:
        """Return a question with its progress line, its "why" and its options."""
        t = self.t(conv)
        parts = [self._progress(conv), t.pgettext(question.id, question.text)]
        if question.why:
            parts.append(t.gettext("Why we ask: {why}", why=t.pgettext(question.id, question.why)))
        choices = tuple(Choice(i, label) for i, label in self.option_labels(conv, question))
        return Reply(
            "\n\n".join(parts),
            kind="question",
            choices=choices,
            expects="choice" if question.kind == "choice" else "number",
            step=question.id,
        )

    def unit_question(
        self, conv: Conversation, question: Question, pending: dict[str, str]
    ) -> Reply:
        """Ask which unit a bare number was in (the units the reading offers, else the
        question's)."""
        assert question.measure is not None
        labels = self.unit_labels(conv, pending.get("units", "").split() or question.measure.ask)
        t = self.t(conv)
        if self.typed:
            text = t.gettext(
                "You typed {value}. Which unit is that? Please type its number.",
                value=pending["raw"],
            )
        else:
            text = t.gettext(
                "You typed {value}. Which unit is that? Please tap one.", value=pending["raw"]
            )
        return ask_choice(text, labels, question.id + "#unit")

    def unit_needed(self, conv: Conversation, question: Question) -> str:
        """Say that a unit is needed to understand the number."""
        return self.t(conv).gettext("I need the unit to understand this number.")

    # -- problems ----------------------------------------------------------------------

    def measurement_problem(
        self, conv: Conversation, question: Question, reading: Reading, text: str
    ) -> str:
        """Explain kindly why a typed measurement was not accepted, as exactly as it can."""
        t = self.t(conv)
        status = reading.measured.status if reading.measured is not None else ""
        if reading.problem == "unknown_unit" and reading.detail:
            return readback.unknown_unit(t, question, reading.detail)
        if status == "empty":
            return t.gettext("I did not get an answer.")
        if status == "several" or reading.problem == "several_numbers":
            return t.gettext("Please type only one number.")
        if status == "implausible":
            return t.gettext(
                "You typed {value}. That looks too high or too low. "
                "Please check it and type it again.",
                value=text.strip()[:40],
            )
        if status == "wrong_unit":
            units = readback.accepted_units(t, question)
            return t.gettext(
                "That unit does not fit this question. You can use: {units}.", units=units
            )
        return t.gettext("Sorry, I could not read a number there.")

    def not_understood(self, conv: Conversation, reading: Reading, text: str) -> str:
        """Say that a typed answer did not match any option (or said two things at once)."""
        t = self.t(conv)
        if not text.strip():
            return t.gettext("I did not get an answer.")
        explained = readback.choice_problem(t, reading.problem)
        if explained:
            return explained
        if self.typed:
            return t.gettext(
                "Sorry, I did not understand. Please type the number of one of the answers below."
            )
        return t.gettext("Sorry, I did not understand. Please tap one of the answers below.")

    def problem(self, conv: Conversation, question: Question, text: str, *, hint: bool) -> Reply:
        """Return a problem message, with a hint about "I don't know" after repeated tries."""
        t = self.t(conv)
        if hint and DONT_KNOW in question.option_ids and question.kind == "measurement":
            text += "\n" + (
                t.gettext('If you do not know this value, that is fine: type "?".')
                if self.typed
                else t.gettext(
                    'If you do not know this value, that is fine: tap "I don\'t know this value".'
                )
            )
        return Reply(text, kind="error")

    def stale_button(self, conv: Conversation) -> Reply:
        """Say that a button belongs to an earlier message."""
        return Reply(
            self.t(conv).gettext(
                "That button is from an earlier message. Here is where we are now."
            ),
            kind="error",
        )

    def please_choose(self, conv: Conversation) -> Reply:
        """Ask the patient to pick one of the offered answers."""
        return Reply(self.choose_text(conv), kind="error")

    def choose_text(self, conv: Conversation) -> str:
        """Return "please pick one of the answers", with the channel's way of picking."""
        t = self.t(conv)
        if self.typed:
            return t.gettext("Please type the number of one of the answers below.")
        return t.gettext("Please tap one of the answers below.")

    # -- conversation frame ------------------------------------------------------------

    def welcome(self, conv: Conversation) -> Reply:
        """Say what this is, how long it takes, and that it is not a diagnosis."""
        t = self.t(conv)
        text = t.gettext(
            "Hello! I can help you find out if a study at {site} may be right for you.\n"
            "The study: {title}.\n\n"
            "I will ask some short questions. It takes {duration}. "
            "This is not a diagnosis: only the study team can decide who can join. "
            "You can stop at any time.\n\n"
            'If you do not know an answer, that is fine: choose "I don\'t know". '
            "Type /back to change your last answer, or /restart to start again.",
            site=t.pgettext("flow", self.flow.site),
            title=t.pgettext("flow", self.flow.title),
            duration=t.ngettext("about {n} minute", "about {n} minutes", self.flow.minutes),
        )
        return Reply(text)

    def welcome_back(self, conv: Conversation) -> Reply:
        """Greet a patient who comes back to an open conversation."""
        return Reply(self.t(conv).gettext("Welcome back! Let's go on where we stopped."))

    def restarted(self, conv: Conversation) -> Reply:
        """Confirm a restart."""
        return Reply(self.t(conv).gettext("OK, let's start again from the beginning."))

    def going_back(self, conv: Conversation, question: Question, previous: Answer | None) -> Reply:
        """Confirm that an answer was taken back."""
        t = self.t(conv)
        if previous is None:
            return Reply(t.gettext("OK, please answer this one again."))
        return Reply(
            t.gettext(
                "OK, let's change this answer. Before, you said: {answer}",
                answer=self.answer_text(conv, question, previous),
            )
        )

    def nothing_to_undo(self, conv: Conversation) -> Reply:
        """Say there is no earlier answer to go back to."""
        return Reply(
            self.t(conv).gettext("This is the first question, so there is nothing to go back to.")
        )

    def help(self, conv: Conversation) -> Reply:
        """List what the patient can do."""
        return Reply(
            self.t(conv).gettext(
                "I ask questions to see if this study may fit you.\n"
                "/back: change your last answer\n"
                "/restart: start again\n"
                "/language: change the language\n"
                "/faq: questions people often ask\n"
                "/privacy: what we keep and why\n"
                "/delete: erase everything about you\n"
                "/help: show this help"
            )
        )

    def language_menu(self, conv: Conversation, step: str) -> Reply:
        """Offer the languages, each in its own name."""
        text = self.t(conv).gettext("Which language would you like?")
        return ask_choice(text, LANGUAGE_NAMES.items(), step)

    def language_set(self, conv: Conversation) -> Reply:
        """Confirm the new language, in that language."""
        return Reply(self.t(conv).gettext("OK, I will write in English from now on."))

    # -- stopping early, endings -------------------------------------------------------

    def confirm_labels(self, conv: Conversation) -> list[tuple[str, str]]:
        """Return the two answers to "is this right?"."""
        t = self.t(conv)
        return [
            ("confirm", t.gettext("Yes, that is right")),
            ("change", t.gettext("No, change it")),
        ]

    def confirm(self, conv: Conversation, question: Question, failing: Sequence[str]) -> Reply:
        """Show the deciding answer back before stopping, so a typo can be fixed."""
        t = self.t(conv)
        text = t.gettext(
            "You answered: {answer}\n\nIf this is right, the study may not be a fit for you:\n"
            "{reasons}\n\nIs your answer right?",
            answer=self.answer_text(conv, question, conv.answers.get(question.id)),
            reasons=self.reasons(conv, failing),
        )
        return ask_choice(text, self.confirm_labels(conv), conv.state, kind="confirm")

    def reasons(self, conv: Conversation, ids: Sequence[str], *, unknown: bool = False) -> str:
        """Return the criteria's reasons as bullet lines, filled with the patient's figures."""
        t = self.t(conv)
        figures = self.figures(conv)
        lines = [
            BULLET
            + t.pgettext(f"criterion:{c.id}", c.unknown_text if unknown else c.fail_text, **figures)
            for c in self.flow.criteria
            if c.id in ids
        ]
        return "\n".join(lines)

    def figures(self, conv: Conversation) -> dict[str, str]:
        """Return the numbers a reason may name: the flow's derived values (a BMI), by id."""
        view = self.flow.view(conv.answers)
        found = {d.id: d.exact(view) for d in self.flow.derived}
        return {k: self.t(conv).number(v) for k, v in found.items() if v is not None}

    def ending(
        self, conv: Conversation, outcome: str, failed: Sequence[str], unknown: Sequence[str]
    ) -> Reply:
        """Return the kind, honest ending for an outcome, naming the reasons."""
        t = self.t(conv)
        if outcome == "likely_ineligible":
            text = t.gettext(
                "Thank you for your time and your answers.\n\n"
                "From what you told me, this study is probably not a fit for you:\n{reasons}\n\n"
                "Only the study team can decide for sure. "
                "If an answer was wrong, type /back to change it.",
                reasons=self.reasons(conv, failed),
            )
        elif outcome == "needs_review":
            text = t.ngettext(
                "Thank you for your answers!\n\n"
                "You may be a fit for this study, but {n} thing is not clear yet:\n{reasons}\n\n"
                "That is normal. The study team can check it with you.",
                "Thank you for your answers!\n\n"
                "You may be a fit for this study, but {n} things are not clear yet:\n{reasons}\n\n"
                "That is normal. The study team can check them with you.",
                sum(1 for c in self.flow.criteria if c.id in unknown),
                reasons=self.reasons(conv, unknown, unknown=True),
            )
        else:
            text = t.gettext(
                "Thank you for your answers!\n\n"
                "From what you told me, you may be a good fit for this study. "
                "This is not a final answer: the study team decides after a visit and some tests."
            )
        return Reply(text, kind="ending")

    def alerts_labels(self, conv: Conversation) -> list[tuple[str, str]]:
        """Return the answers to the offer of other trials."""
        t = self.t(conv)
        return [("yes", t.gettext("Yes, please")), ("no", t.gettext("No, thank you"))]

    def alerts_offer(self, conv: Conversation, step: str) -> Reply:
        """Offer news of other diabetes studies."""
        text = self.t(conv).gettext("Would you like to hear about other studies for diabetes?")
        return ask_choice(text, self.alerts_labels(conv), step)

    def alerts_answered(self, conv: Conversation, wanted: bool) -> Reply:
        """Close the conversation after the offer of other trials."""
        t = self.t(conv)
        if wanted:
            return Reply(
                t.gettext("Thank you. We will tell you when another study may fit you. Take care!")
            )
        return Reply(t.gettext("That is fine. Thank you, and take care!"))

    def finished(self, conv: Conversation) -> Reply:
        """Say the screening is over and how to start again."""
        return Reply(
            self.t(conv).gettext("This screening is finished. Type /restart to start again.")
        )

    # -- information and erasure -------------------------------------------------------

    def cannot_read(self, conv: Conversation, *, edited: bool) -> Reply:
        """Answer a sticker, photo, voice note, location, file or an edited message."""
        t = self.t(conv)
        if edited:
            return Reply(
                t.gettext(
                    "I saw that you changed an earlier message. I use the first answer. "
                    "To change your last answer, type /back."
                )
            )
        if self.typed:  # no buttons on this channel: answers are typed numbers
            text = N_(
                "Thank you! I can only read typed text and the numbers of the answers. "
                "Here is the question again."
            )
        else:
            text = N_(
                "Thank you! I can only read typed text and the answer buttons. "
                "Here is the question again."
            )
        return Reply(t.gettext(text))

    def nothing_deleted(self, conv: Conversation) -> Reply:
        """Confirm that nothing was erased."""
        return Reply(self.t(conv).gettext("OK, nothing was erased."))

    def yes_no(self, conv: Conversation) -> list[tuple[str, str]]:
        """Return the plain answers Yes and No (ids "yes" and "no")."""
        t = self.t(conv)
        return [("yes", t.gettext("Yes")), ("no", t.gettext("No"))]

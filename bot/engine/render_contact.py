"""The replies of the consent to share and the contact steps, in the patient's language.

Mixed into :class:`~bot.engine.render.Renderer`: saying no kindly, asking for the phone
number, the name, an e-mail address, the best time and the language of the call, and the
reference code once the details are on their way to the study team.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.events import Choice, Reply, ask_choice
from bot.engine.record import Conversation
from bot.i18n.languages import SPOKEN_LANGUAGES

if TYPE_CHECKING:
    from bot.i18n import Translator


class ContactReplies:
    """Replies of the sharing consent and the contact steps; mixed into the renderer."""

    typed: bool
    call_languages: tuple[str, ...]

    def t(self, conv: Conversation) -> Translator:  # pragma: no cover - the renderer's
        raise NotImplementedError

    def declined(self, conv: Conversation) -> Reply:
        """End kindly when the patient does not agree to health questions."""
        return Reply(
            self.t(conv).gettext(
                "That is fine. Without your agreement I will not ask any health questions, "
                "and nothing about your health is kept. If you change your mind, type /start."
            ),
            kind="ending",
        )

    def share_refused(self, conv: Conversation) -> Reply:
        """Close kindly when the patient does not want to be contacted."""
        return Reply(
            self.t(conv).gettext(
                "That is fine. We have not sent anything to the study team. "
                "If you change your mind, type /back. Take care!"
            ),
            kind="ending",
        )

    def phone_question(self, conv: Conversation, step: str) -> Reply:
        """Ask for the phone number: the channel's share button, or typed."""
        t = self.t(conv)
        if self.typed:
            return Reply(
                t.gettext(
                    "Please type your phone number. For a number outside mainland China, "
                    "start with + and the country code."
                ),
                kind="question",
                expects="phone",
                step=step,
            )
        return Reply(
            t.gettext(
                "Please share your phone number: tap the button below, or type it. "
                "For a number outside mainland China, start with + and the country code."
            ),
            kind="question",
            choices=(Choice("share_phone", t.gettext("Share my phone number")),),
            expects="phone",
            step=step,
        )

    def phone_invalid(self, conv: Conversation) -> str:
        """Say a phone number could not be read."""
        return self.t(conv).gettext(
            "That does not look like a phone number. Please check it and try again."
        )

    def phone_received(self, conv: Conversation, phone: str) -> Reply:
        """Confirm the number, and end the phone-number button."""
        return Reply(
            self.t(conv).gettext("Thank you. Your number: {phone}", phone=phone),
            clears_input=True,
        )

    def name_question(self, conv: Conversation, step: str, profile_name: str) -> Reply:
        """Ask which name the study team should use, offering the channel's one."""
        t = self.t(conv)
        if profile_name:
            text = t.gettext(
                "Should the study team call you {name}? Tap Yes, or type another name.",
                name=profile_name,
            )
            choices: tuple[Choice, ...] = (Choice("yes", t.gettext("Yes")),)
        else:
            text = t.gettext("What name should the study team use when they call you?")
            choices = ()
        return Reply(text, kind="question", choices=choices, expects="text", step=step)

    def name_invalid(self, conv: Conversation) -> str:
        """Ask for a name again."""
        return self.t(conv).gettext("Please type a name, for example your first and last name.")

    def email_question(self, conv: Conversation, step: str) -> Reply:
        """Ask for an optional e-mail address."""
        t = self.t(conv)
        ask = (
            t.gettext("If you like, type your e-mail address. Or type 1 to skip.")
            if self.typed
            else t.gettext("If you like, type your e-mail address. Or tap Skip.")
        )
        return Reply(
            ask,
            kind="question",
            choices=(Choice("skip", t.gettext("Skip")),),
            expects="text",
            step=step,
        )

    def email_invalid(self, conv: Conversation) -> str:
        """Say an e-mail address could not be read."""
        t = self.t(conv)
        if self.typed:
            return t.gettext(
                "That does not look like an e-mail address. Please try again, or type 1 to skip."
            )
        return t.gettext(
            "That does not look like an e-mail address. Please try again, or tap Skip."
        )

    def best_time_question(self, conv: Conversation, step: str) -> Reply:
        """Ask when to call."""
        t = self.t(conv)
        times = [
            ("morning", t.gettext("Morning")),
            ("afternoon", t.gettext("Afternoon")),
            ("evening", t.gettext("Evening")),
            ("any", t.gettext("Any time")),
        ]
        return ask_choice(t.gettext("When is the best time to call you?"), times, step)

    def call_language_question(self, conv: Conversation, step: str) -> Reply:
        """Ask which spoken language the call should be in (those the team can call in)."""
        languages = [(code, SPOKEN_LANGUAGES[code]) for code in self.call_languages]
        return ask_choice(
            self.t(conv).gettext("Which language should the call be in?"), languages, step
        )

    def handed_off(self, conv: Conversation, code: str, days: int) -> Reply:
        """Tell the patient their reference code and when to expect a call."""
        t = self.t(conv)
        return Reply(
            t.ngettext(
                "Thank you! Your details are on their way to the study team.\n\n"
                "Your reference code is {code}.\n"
                "The study team will contact you within {n} working day.",
                "Thank you! Your details are on their way to the study team.\n\n"
                "Your reference code is {code}.\n"
                "The study team will contact you within {n} working days.",
                days,
                code=code,
            ),
            kind="ending",
        )

    def already_handed_off(self, conv: Conversation) -> Reply:
        """Say the details were already sent, so answers can no longer be changed here."""
        return Reply(
            self.t(conv).gettext(
                "Your details are already with the study team, so your answers can no longer "
                "be changed here. Type /restart to start a new screening."
            )
        )

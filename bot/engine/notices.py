"""What the bot tells a patient about safety and about their data, through gettext.

Urgent advice with the emergency numbers by place; the two consents, /privacy and /delete,
each built from the :class:`~bot.engine.policy.DataPolicy` the settings put in force and
from :data:`~bot.engine.policy.SHARED_FIELDS`, so the words follow what the code does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babel.lists import format_list

from bot.engine import faq
from bot.engine.events import Reply, ask_choice
from bot.engine.policy import N_
from bot.engine.record import Conversation
from bot.engine.safety import Situation

if TYPE_CHECKING:
    from bot.engine.flow import Flow
    from bot.engine.policy import DataPolicy
    from bot.i18n import Translator

BULLET = "• "

#: How the sharing consent names each item of a referral card (English source text).
FIELD_LABELS: dict[str, str] = {
    "name": N_("your name"),
    "phone": N_("your phone number"),
    "username": N_("your user name in this chat app (@name)"),
    "email": N_("your e-mail address, if you give one"),
    "best_time": N_("the best time to call you"),
    "call_lang": N_("the language for the call"),
    "lang": N_("the language you chose here"),
    "source": N_("how you found us"),
    "outcome": N_("what this screening found"),
    "answers": N_("every answer you gave here, with the words you typed"),
}


class Notices:
    """Safety and data-policy replies; mixed into the renderer."""

    flow: Flow
    policy: DataPolicy

    def t(self, conv: Conversation) -> Translator:  # pragma: no cover - the renderer's
        raise NotImplementedError

    # -- urgent advice ---------------------------------------------------------------------

    def emergency_numbers(self, conv: Conversation) -> str:
        """List the emergency numbers by place, and the local number everywhere else."""
        t = self.t(conv)
        lines = [t.gettext("Emergency numbers:")]
        for item in self.flow.safety.emergency:
            place = t.pgettext("place", item.place)
            lines.append(BULLET + t.gettext("{place}: {number}", place=place, number=item.number))
        lines.append(BULLET + t.gettext("Anywhere else: call the local number for an ambulance"))
        return "\n".join(lines)

    def urgent(self, conv: Conversation, situation: Situation, *, again: bool = False) -> Reply:
        """Return the advice for an urgent situation, with the numbers to call."""
        t = self.t(conv)
        parts = [t.pgettext(f"safety:{situation.id}", situation.advice)]
        if again:
            parts.insert(0, t.gettext("Before you go, please remember:"))
        parts.append(self.emergency_numbers(conv))
        return Reply("\n\n".join(parts), kind="urgent")

    # -- consents ----------------------------------------------------------------------------

    def _transit(self, conv: Conversation) -> list[str]:
        """Return the channel's sentence about where its servers are, if it has one."""
        return [self.t(conv).gettext(self.policy.transit)] if self.policy.transit else []

    def consent_question(self, conv: Conversation, step: str) -> Reply:
        """Ask for agreement to health questions before the first one (PIPL art. 28-29)."""
        t = self.t(conv)
        parts = [
            t.gettext(
                "Before we start: I will ask about your health. Health facts are sensitive "
                "personal information, so I need your agreement.\n\n"
                "We use your answers only to see if this study may fit you. "
                "Type /privacy to read what we keep and for how long."
            ),
            *self._transit(conv),
            t.gettext("Do you agree?"),
        ]
        options = [("agree", t.gettext("Yes, I agree")), ("decline", t.gettext("No"))]
        return ask_choice("\n\n".join(parts), options, step)

    def shared_items(self, conv: Conversation) -> list[str]:
        """Name every item a referral card carries, in the patient's language."""
        t = self.t(conv)
        return [t.gettext(FIELD_LABELS[name]) for name in self.policy.shared]

    def destinations(self, conv: Conversation) -> str:
        """Say where contact details go, as configured; empty when nowhere is set."""
        t = self.t(conv)
        places = []
        if self.policy.team_chat:
            places.append(t.gettext("in the study team's group chat"))
        if self.policy.email_copy:
            places.append(t.gettext("by e-mail to the study team"))
        return format_list(places, locale=t.locale) if places else ""

    def share_question(self, conv: Conversation, step: str) -> Reply:
        """Ask, separately, to hand the patient's details to the study team, naming them all."""
        t = self.t(conv)
        items = "\n".join(BULLET + item for item in self.shared_items(conv))
        parts = [
            t.gettext(
                "The study team at {site} would like to talk with you.\n\n"
                "May we send them these details, so they can call you?\n{items}",
                site=t.pgettext("flow", self.flow.site),
                items=items,
            )
        ]
        where = self.destinations(conv)
        if where:
            parts.append(t.gettext("They get them {where}.", where=where))
        parts.append(t.gettext("We send nothing else without asking you."))
        parts.extend(self._transit(conv))
        options = [("yes", t.gettext("Yes, send my details")), ("no", t.gettext("No, thank you"))]
        return ask_choice("\n\n".join(parts), options, step)

    # -- information -----------------------------------------------------------------------

    def faq(self, conv: Conversation) -> Reply:
        """Answer the common questions, each with its source (see ``bot/engine/faq.py``)."""
        t = self.t(conv)
        parts = [t.gettext("Questions people often ask")]
        parts += [
            f"{t.gettext(e.question)}\n{t.gettext(e.answer)}\n{t.gettext(e.source)}"
            for e in faq.ENTRIES
        ]
        return Reply("\n\n".join(parts))

    def _days(self, t: Translator, days: int) -> str:
        return t.ngettext("{n} day", "{n} days", days)

    def _how_long(self, t: Translator) -> str:
        policy = self.policy
        lines = [
            t.gettext("How long we keep it:"),
            t.gettext(
                "If you stop before the end: we delete it after {days}.",
                days=self._days(t, policy.abandoned_days),
            ),
            t.gettext(
                "If you finish and nothing goes to the study team: we delete it after {days}.",
                days=self._days(t, policy.finished_days),
            ),
        ]
        if policy.referral_days is None:
            lines.append(
                t.gettext(
                    "If your details go to the study team: we keep them while the study needs "
                    "them. You can erase them before that."
                )
            )
        else:
            lines.append(
                t.gettext(
                    "If your details go to the study team: we delete them after {days}.",
                    days=self._days(t, policy.referral_days),
                )
            )
        return "\n".join([lines[0], *(BULLET + line for line in lines[1:])])

    def privacy(self, conv: Conversation) -> Reply:
        """Say what is kept, why, for how long, who sees it, and how to erase it."""
        t = self.t(conv)
        contact = "\n".join(
            BULLET + t.gettext(FIELD_LABELS[name]) for name in self.policy.contact_fields
        )
        kept = [
            t.gettext(
                "What we keep: your answers and the words you typed. We also keep your language "
                "and how you found us. We keep the number of this chat, so we can reply to you. "
                "And we keep whether you want news about other studies."
            ),
            t.gettext(
                "If you agree that the study team may call you, we also keep:\n{items}",
                items=contact,
            ),
            t.gettext("Your contact details and the words you typed are locked (encrypted)."),
        ]
        if self.policy.email_copy:
            kept.append(t.gettext("A copy of your details goes to the study team by e-mail."))
        parts = [
            t.gettext("Your privacy"),
            "\n".join(kept),
            t.gettext(
                "Why: to see if the study may fit you and, if you agree, to let the study team "
                "call you."
            ),
            self._how_long(t),
            t.gettext(
                "Who sees it: only the study team at {site}.",
                site=t.pgettext("flow", self.flow.site),
            ),
            *self._transit(conv),
            t.gettext("To erase everything about you, type /delete at any time."),
        ]
        return Reply("\n\n".join(parts))

    def _not_recalled(self, t: Translator) -> list[str]:
        """Name what erasure cannot take back, as configured."""
        gone = []
        if self.policy.email_copy:
            gone.append(t.gettext("an e-mail already sent to the study team"))
        if self.policy.team_chat:
            gone.append(t.gettext("a list the study team already downloaded"))
        if not gone:
            return []
        return [
            t.gettext(
                "We cannot take back {what}.", what=format_list(gone, style="or", locale=t.locale)
            )
        ]

    def delete_question(self, conv: Conversation, step: str) -> Reply:
        """Ask before erasing, saying honestly what erasure does and does not reach."""
        t = self.t(conv)
        parts = [
            t.gettext("Do you want to erase all your answers and details? This cannot be undone.")
        ]
        if self.policy.team_chat:
            parts.append(
                t.gettext(
                    "If your details were sent to the study team, we also remove them from "
                    "their group chat."
                )
            )
        parts.extend(self._not_recalled(t))
        options = [
            ("erase", t.gettext("Yes, erase everything")),
            ("keep", t.gettext("No, keep them")),
        ]
        return ask_choice("\n\n".join(parts), options, step, kind="confirm")

    def deleted(self, conv: Conversation) -> Reply:
        """Confirm the erasure, and what it could not reach."""
        t = self.t(conv)
        parts = [t.gettext("Done: your answers and details are erased.")]
        parts.extend(self._not_recalled(t))
        parts.append(t.gettext("Thank you for your time. Type /start if you want to begin again."))
        return Reply("\n\n".join(parts))

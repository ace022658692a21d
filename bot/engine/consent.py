"""The steps around the questions: consent before them, and handing over after them.

Consent to health questions comes first (PIPL art. 28-29): declining ends kindly. After a
``likely_eligible`` or ``needs_review`` outcome the patient is asked, separately, whether
their contact details may go to the study team; then for a phone number, a name and,
optionally, an e-mail address, the best time to call and the call's language. The last
step produces ``Result.referral`` and ``Result.contact``, which the caller commits with
the referral before the reference code is shown.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.engine.choices import match_choice
from bot.engine.contact import clean_email, clean_name, normalise_phone
from bot.engine.events import Event, Referral, Reply, Result
from bot.engine.machine import CONSENT, CONTACT_STEPS, DECLINED, DONE, SHARE, FlowMachine
from bot.engine.record import Conversation
from bot.engine.render import Renderer

HANDED_OFF = ("likely_eligible", "needs_review")
Asker = Callable[[Conversation], Reply]  # returns the first health question
BEST_TIMES = ("morning", "afternoon", "evening", "any")


class ConsentSteps:
    """Consent and contact steps; shares the engine's machine and renderer."""

    def __init__(
        self,
        machine: FlowMachine,
        render: Renderer,
        new_ref: Callable[[], str],
        promise_days: int,
    ) -> None:
        self.machine = machine
        self.render = render
        self.new_ref = new_ref
        self.promise_days = promise_days

    # -- prompts -----------------------------------------------------------------------------

    def prompt(self, conv: Conversation, profile_name: str = "") -> Reply:
        """Return the question of the current consent or contact step."""
        state = conv.state
        if state == CONSENT:
            return self.render.consent_question(conv, CONSENT)
        if state == DECLINED:
            return self.render.declined(conv)
        if state == SHARE:
            return self.render.share_question(conv, SHARE)
        if state == "phone":
            return self.render.phone_question(conv, state)
        if state == "name":  # offered only as it would be kept: a refused name is not offered
            return self.render.name_question(conv, state, clean_name(profile_name) or "")
        if state == "email":
            return self.render.email_question(conv, state)
        if state == "best_time":
            return self.render.best_time_question(conv, state)
        return self.render.call_language_question(conv, state)

    def owns(self, state: str) -> bool:
        """Return True for the states this class handles."""
        return state in (CONSENT, DECLINED, SHARE, *CONTACT_STEPS)

    # -- answers -------------------------------------------------------------------------------

    def handle(self, conv: Conversation, event: Event, result: Result, first: Asker) -> None:
        """Apply an event in a consent or contact step."""
        if event.kind == "tap" and event.step != conv.state:
            result.replies.append(self.render.stale_button(conv))
            result.replies.append(self.prompt(conv, event.profile_name))
            return
        if conv.state == CONSENT:
            self._consent(conv, event, result, first)
        elif conv.state == DECLINED:
            result.replies.append(self.render.declined(conv))
        elif conv.state == SHARE:
            self._share(conv, event, result)
        else:
            self._contact(conv, event, result)

    def _agreement(
        self,
        conv: Conversation,
        event: Event,
        result: Result,
        kind: str,
        asked: Reply,
        yes: str,
        no: str,
    ) -> bool | None:
        """Read a yes or no to the consent ``asked`` (a tap on ``yes``/``no``, or words) and
        record it with the wording shown; None, after asking again, when it is neither."""
        if event.kind == "tap":
            choice = event.option if event.option in (yes, no) else None
        else:
            choice = {"yes": yes, "no": no}.get(_yes_or_no(conv, event.text) or "")
        if choice is None:
            result.replies.append(self.render.please_choose(conv))
            result.replies.append(self.prompt(conv))
            return None
        result.consents.append((kind, choice == yes, asked.text))
        return choice == yes

    def _consent(self, conv: Conversation, event: Event, result: Result, first: Asker) -> None:
        asked = self.render.consent_question(conv, CONSENT)
        granted = self._agreement(
            conv, event, result, "health_processing", asked, "agree", "decline"
        )
        if granted is None:
            return
        if granted:
            conv.agreed = True
            self.machine.trigger(conv, "agree")
            result.replies.append(first(conv))
        else:
            self.machine.trigger(conv, "decline")
            result.replies.append(self.render.declined(conv))

    def offer(self, conv: Conversation, result: Result) -> None:
        """After an outcome that goes to the study team, ask to share contact details."""
        if conv.outcome and conv.outcome.get("outcome") in HANDED_OFF and conv.state == DONE:
            self.machine.trigger(conv, "handoff")
            result.replies.append(self.render.share_question(conv, SHARE))

    def _share(self, conv: Conversation, event: Event, result: Result) -> None:
        asked = self.render.share_question(conv, SHARE)
        granted = self._agreement(conv, event, result, "share_contact", asked, "yes", "no")
        if granted is None:
            return
        if granted:
            conv.contact = {}
            self.machine.trigger(conv, "accept")
            result.replies.append(self.prompt(conv, event.profile_name))
        else:
            self.machine.trigger(conv, "refuse")
            result.replies.append(self.render.share_refused(conv))

    def _contact(self, conv: Conversation, event: Event, result: Result) -> None:
        step = conv.state
        readers = {
            "phone": self._phone,
            "name": self._name,
            "email": self._email,
            "best_time": self._best_time,
        }
        value, problem = readers.get(step, self._call_lang)(conv, event)
        contact = conv.contact if conv.contact is not None else {}
        if value is not None:
            contact[step] = value
        conv.contact = contact
        if problem is not None:
            result.replies.append(Reply(problem, kind="error"))
            result.replies.append(self.prompt(conv, event.profile_name))
            return
        if step == "phone" and value is not None:
            result.replies.append(self.render.phone_received(conv, value))
        self.machine.trigger(conv, "next")
        if conv.state == DONE:
            self._finish(conv, result)
        else:
            result.replies.append(self.prompt(conv, event.profile_name))

    # Each contact step's reader returns (the value to keep, or None; what went wrong, or None).

    def _phone(self, conv: Conversation, event: Event) -> tuple[str | None, str | None]:
        phone = normalise_phone(event.text) if event.kind in ("text", "contact") else None
        return phone, None if phone is not None else self.render.phone_invalid(conv)

    def _name(self, conv: Conversation, event: Event) -> tuple[str | None, str | None]:
        text = event.text
        if (event.kind == "tap" and event.option == "yes" and event.profile_name) or (
            event.kind == "text" and event.profile_name and _yes_or_no(conv, text) == "yes"
        ):
            name = clean_name(event.profile_name)
        else:
            name = clean_name(text) if event.kind == "text" else None
        return name, None if name is not None else self.render.name_invalid(conv)

    def _email(self, conv: Conversation, event: Event) -> tuple[str | None, str | None]:
        text = event.text
        if (event.kind == "tap" and event.option == "skip") or (
            event.kind == "text"
            and match_choice(text, [("skip", self._skip_label(conv))], conv.lang)
        ):
            return None, None
        email = clean_email(text) if event.kind == "text" else None
        return email, None if email is not None else self.render.email_invalid(conv)

    def _best_time(self, conv: Conversation, event: Event) -> tuple[str | None, str | None]:
        asked = self.render.best_time_question(conv, conv.state)
        choice = self._pick(conv, event, BEST_TIMES, asked)
        return choice, None if choice is not None else self.render.choose_text(conv)

    def _call_lang(self, conv: Conversation, event: Event) -> tuple[str | None, str | None]:
        asked = self.render.call_language_question(conv, conv.state)
        choice = self._pick(conv, event, self.render.call_languages, asked)
        return choice, None if choice is not None else self.render.choose_text(conv)

    def _skip_label(self, conv: Conversation) -> str:
        return self.render.email_question(conv, "email").choices[0].label

    def _pick(
        self, conv: Conversation, event: Event, ids: tuple[str, ...], asked: Reply
    ) -> str | None:
        if event.kind == "tap":
            return event.option if event.option in ids else None
        labels = [(c.id, c.label) for c in asked.choices]
        return match_choice(event.text, labels, conv.lang)

    def refused(self, conv: Conversation) -> bool:
        """Return True when the patient said no to sharing their details (and may go back)."""
        outcome = conv.outcome or {}
        return conv.state == DONE and outcome.get("outcome") in HANDED_OFF and "ref" not in outcome

    def _finish(self, conv: Conversation, result: Result) -> None:
        assert conv.outcome is not None
        code = self.new_ref()
        result.contact = dict(conv.contact or {})
        result.referral = Referral(code, str(conv.outcome["outcome"]))
        conv.outcome["ref"] = code
        conv.contact = None
        result.replies.append(self.render.handed_off(conv, code, self.promise_days))

    def back(self, conv: Conversation, result: Result) -> bool:
        """Go back one contact step, or to the sharing question after a "no"; else False."""
        if self.refused(conv):
            self.machine.trigger(conv, "handoff")
            result.replies.append(self.prompt(conv))
            return True
        if conv.state not in CONTACT_STEPS:
            return False
        index = CONTACT_STEPS.index(conv.state)
        if index == 0:
            conv.state, conv.contact = SHARE, None
        else:
            conv.state = CONTACT_STEPS[index - 1]
            field = {"phone": "phone", "name": "name", "email": "email", "best_time": "best_time"}[
                conv.state
            ]
            if conv.contact:
                conv.contact.pop(field, None)
        result.replies.append(self.prompt(conv))
        return True


def _yes_or_no(conv: Conversation, text: str) -> str | None:
    """Return "yes" or "no" when typed words say so (in the patient's language), else None."""
    return match_choice(text, [("yes", ""), ("no", "")], conv.lang)

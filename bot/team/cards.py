"""Referral cards and the other texts the study team reads, channel-free, in TEAM_LANGUAGE.

A :class:`Card` is the text twice, as plain text (e-mail, length checks) and as HTML for
Telegram's ``parse_mode=HTML``, plus its buttons as ``(label, action)``. Every line is
escaped as a whole after the patient's values were put in, so a name such as
``李 <b>&*`` arrives as text. Telegram counts a message's length after the HTML is parsed,
in UTF-16 code units: :data:`MAX_TEXT` applies to ``plain``.

Which buttons a card offers is the referral workflow's (:mod:`bot.workflow`); what each
answer is called, and the values worked out from them, are the flow's
(:mod:`bot.engine.derived`, ``labels`` and ``derived`` in ``flows/*.yaml``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from bot.engine import readback
from bot.engine.flow import DONT_KNOW, Flow
from bot.engine.policy import SHARED_FIELDS
from bot.engine.record import Answer
from bot.engine.rules import Verdict
from bot.i18n import Catalogs, Translator, get_catalogs, negotiate
from bot.i18n.languages import LANGUAGE_NAMES, SPOKEN_LANGUAGES
from bot.storage.store import AnswerView, ReferralDetails
from bot.team.lines import MAX_CAPTION as MAX_CAPTION
from bot.team.lines import MAX_TEXT as MAX_TEXT
from bot.team.lines import Lines
from bot.team.lines import Text as Text
from bot.team.lines import clip as clip
from bot.team.lines import escape as escape
from bot.team.lines import team_time as team_time
from bot.team.lines import utf16_len as utf16_len
from bot.team.screening import counted_answers, derived_values, engine_answers, flow_for
from bot.workflow import ATTEMPT, ICONS, SHOW, actions_for

MAX_WORDS = 60  # the patient's own words beside an answer, at most (characters)
MAX_VALUE = 120  # a contact detail, at most (characters)

#: What a card carries about the patient; the sharing consent names each of these.
CARD_FIELDS = SHARED_FIELDS


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # a status, ATTEMPT or SHOW


@dataclass(frozen=True)
class Card:
    ref: str
    plain: str
    html: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class LastChange:
    """Who did the last thing on a card, and when: shown under the status."""

    label: str  # a short coordinator label ("Li W."), never their id
    at: datetime
    action: str  # the new status, or ATTEMPT


class TeamTexts:
    """Every word the study team reads, in the team's language."""

    def __init__(self, lang: str, catalogs: Catalogs | None = None) -> None:
        self.lang = negotiate(lang)
        self.t: Translator = (catalogs or get_catalogs()).get(self.lang)

    # -- labels ------------------------------------------------------------------------

    @cached_property
    def _labels(self) -> dict[str, dict[str, str]]:
        """The labels of statuses, outcomes and best times to call, translated once."""
        t = self.t
        return {
            "status": {
                "new": t.pgettext("referral status", "New"),
                "contacted": t.pgettext("referral status", "Contacted"),
                "visit_scheduled": t.pgettext("referral status", "Visit scheduled"),
                "enrolled": t.pgettext("referral status", "Enrolled"),
                "screen_failed": t.pgettext("referral status", "Screen failed"),
                "not_reachable": t.pgettext("referral status", "Not reachable"),
            },
            "outcome": {
                "likely_eligible": t.pgettext("outcome", "Likely eligible"),
                "needs_review": t.pgettext("outcome", "Needs review"),
                "likely_ineligible": t.pgettext("outcome", "Likely ineligible"),
            },
            "best_time": {
                "morning": t.gettext("Morning"),
                "afternoon": t.gettext("Afternoon"),
                "evening": t.gettext("Evening"),
                "any": t.gettext("Any time"),
            },
        }

    def status(self, status: str) -> str:
        """A referral status's label."""
        return self._labels["status"].get(status, status)

    def outcome(self, outcome: str) -> str:
        """A screening outcome's label."""
        return self._labels["outcome"].get(outcome, outcome)

    def action(self, action: str) -> str:
        """A button's label."""
        if action == ATTEMPT:
            return self.t.pgettext("button", "📞 Call attempt (no answer)")
        if action == SHOW:
            return self.t.pgettext("button", "Show the card")
        return self.t.gettext("→ {status}", status=self.status(action))

    def best_time(self, best_time: str) -> str:
        """The best time to call in the team's language (the patient tapped one of these)."""
        return self._labels["best_time"].get(best_time, best_time)

    def language(self, lang: str | None) -> str:
        if not lang:
            return "—"
        return SPOKEN_LANGUAGES.get(lang) or LANGUAGE_NAMES.get(lang, lang)

    def source(self, source: str) -> str:
        return source or self.t.gettext("no source (direct)")

    def fact(self, fact: str, flow: Flow | None) -> str:
        """A short name for an answered fact: the flow's label, else the question itself."""
        if flow is None or not flow.has_question(fact):
            return fact
        question = flow.question(fact)
        if question.label:
            return self.t.gettext(question.label)
        return clip(self.t.pgettext(fact, question.text), 80)

    def criterion(self, flow: Flow, cid: str) -> str:
        for c in flow.criteria:
            if c.id == cid:
                title = self.t.pgettext(f"criterion:{c.id}", c.title)
                return f"{c.listing} {title}" if c.listing else title
        return cid

    # -- values --------------------------------------------------------------------------

    def value(self, fact: str, answer: AnswerView, flow: Flow | None) -> str:
        """The answer in normalised form: an option's label, or a number in the canonical unit
        (with its bound's sign: "<0.1 nmol/L")."""
        question = flow.question(fact) if flow is not None and flow.has_question(fact) else None
        if answer.value == DONT_KNOW:
            if question is not None and question.kind == "measurement":
                return self.t.pgettext("option", "I don't know this value")
            return self.t.pgettext("option", "I don't know")
        if question is None:
            return answer.value
        return readback.value_text(self.t, question, answer.value)

    def answer_rows(self, details: ReferralDetails) -> list[tuple[str, str, str, str]]:
        """``(fact, label, normalised value, the patient's words)`` for each answer that counts,
        in the flow's order; each value the flow works out (a BMI) after the last fact it
        reads. A bare number read in a unit the patient did not type shows that unit:
        "65 g/L = 6.5 g/dL (65)"."""
        flow = flow_for(details.flow_id, details.flow_version)
        derived = derived_values(details)
        rows = []
        for fact, answer in counted_answers(details).items():
            shown = self.value(fact, answer, flow)
            if flow is not None and flow.has_question(fact):
                question, given = flow.question(fact), Answer(answer.value, answer.raw, answer.unit)
                shown = readback.assumed_reading(self.t, question, given, details.lang) or shown
            words = answer.raw.strip()
            rows.append((fact, self.fact(fact, flow), shown, "" if words == shown else words))
            for value in flow.derived_after(fact) if flow is not None else ():
                figure = derived.get(value.id)
                if figure is not None:
                    rows.append((value.id, self.t.gettext(value.label), self.t.number(figure), ""))
        return rows

    def verdicts(self, details: ReferralDetails) -> list[tuple[str, str, Verdict]]:
        """``(criterion id, title, verdict)`` in the flow's order (from the stored decision
        when the flow is gone)."""
        flow = flow_for(details.flow_id, details.flow_version)
        if flow is not None:
            found = flow.evaluate(flow.view(engine_answers(details.answers)))
            return [(cid, self.criterion(flow, cid), v) for cid, v in found.items()]
        if details.decision is None:
            return []
        failed = [(c, c, Verdict.FAIL) for c in details.decision.failed]
        return failed + [(c, c, Verdict.UNKNOWN) for c in details.decision.unknown]

    # -- the card --------------------------------------------------------------------------

    def card(self, details: ReferralDetails, last: LastChange | None = None) -> Card:
        """The referral card, within Telegram's length limit, with its buttons."""
        for words, keep in ((MAX_WORDS, None), (24, None), (24, 12), (12, 0)):
            text = self._card_text(details, last, words=words, keep_answers=keep)
            if utf16_len(text.plain) <= MAX_TEXT:
                break
        buttons = tuple(
            Button(self.action(a), a) for a in actions_for(details.status, details.attempts)
        )
        return Card(details.ref_code, text.plain, text.html, buttons)

    def _card_text(
        self,
        details: ReferralDetails,
        last: LastChange | None,
        *,
        words: int,
        keep_answers: int | None,
    ) -> Text:
        lines = Lines()
        self._head(lines, details)
        lines.gap()
        self._status_lines(lines, details, last)
        lines.gap()
        self._contact_lines(lines, details)
        verdicts = self.verdicts(details)
        if verdicts:
            lines.gap()
            lines.add(self.t.gettext("Criteria"), bold=True)
            for _cid, title, verdict in verdicts:
                lines.add(f"{ICONS[verdict]} {title}")
        self._answer_lines(lines, details, words, keep_answers)
        return lines.text()

    def _head(self, lines: Lines, details: ReferralDetails) -> None:
        t = self.t
        lines.add(t.gettext("Referral {ref}", ref=details.ref_code), bold=True)
        lines.add(t.gettext("Outcome: {outcome}", outcome=self.outcome(details.outcome)))
        protocol = details.decision.protocol_version if details.decision else ""
        lines.add(
            t.gettext(
                "Protocol: {protocol} (flow {flow}, version {version})",
                protocol=protocol or "—",
                flow=details.flow_id,
                version=details.flow_version,
            )
        )
        lines.add(
            t.gettext(
                "Language: {language} · Source: {source}",
                language=self.language(details.lang),
                source=self.source(details.source),
            )
        )
        lines.add(t.gettext("Received: {time}", time=team_time(details.created_at)))

    def _status_lines(
        self, lines: Lines, details: ReferralDetails, last: LastChange | None
    ) -> None:
        t = self.t
        lines.add(t.gettext("Status: {status}", status=self.status(details.status)), bold=True)
        if last is not None:
            if last.action == ATTEMPT:
                what = t.gettext("call attempt recorded")
            else:
                what = t.gettext("set to {status}", status=self.status(last.action))
            lines.add(
                t.gettext(
                    "Last change: {what}, by {who}, {time}",
                    what=what,
                    who=clip(last.label, 40),
                    time=team_time(last.at),
                )
            )
        elif details.acknowledged_at is not None:
            lines.add(t.gettext("Acknowledged: {time}", time=team_time(details.acknowledged_at)))
        if details.attempts:
            lines.add(
                t.ngettext(
                    "{n} call attempt recorded",
                    "{n} call attempts recorded",
                    details.attempts,
                )
            )

    def _contact_lines(self, lines: Lines, details: ReferralDetails) -> None:
        t = self.t
        lines.add(t.gettext("Contact"), bold=True)
        contact = details.contact
        if contact is None:
            lines.add(t.gettext("No contact details."))
            return
        for label, value in (
            (t.gettext("Name"), contact.name),
            (t.gettext("Phone"), contact.phone),
            (t.gettext("E-mail"), contact.email),
            (t.gettext("Telegram"), f"@{contact.username}" if contact.username else None),
            (
                t.gettext("Best time to call"),
                self.best_time(contact.best_time) if contact.best_time else None,
            ),
            (
                t.gettext("Language for the call"),
                self.language(contact.call_lang) if contact.call_lang else None,
            ),
        ):
            if value:
                lines.add(self.pair(label, clip(value, MAX_VALUE)))

    def _answer_lines(
        self, lines: Lines, details: ReferralDetails, words: int, keep_answers: int | None
    ) -> None:
        rows = self.answer_rows(details)
        if not rows:
            return
        t = self.t
        lines.gap()
        lines.add(t.gettext("Answers (the patient's own words in brackets)"), bold=True)
        shown = rows if keep_answers is None else rows[:keep_answers]
        for _fact, label, value, said in shown:
            text = f"{value} ({clip(said, words)})" if said else value
            lines.add(self.pair(label, text))
        if len(shown) < len(rows):
            lines.add(
                t.ngettext(
                    "… {n} more answer: see /export",
                    "… {n} more answers: see /export",
                    len(rows) - len(shown),
                )
            )

    def pair(self, label: str, value: str) -> str:
        return self.t.gettext("{label}: {value}", label=label, value=value)

    # -- other team messages -------------------------------------------------------------------

    def digest(self, referrals: Sequence[ReferralDetails], *, max_codes: int = 100) -> Text:
        """One card for a burst: how many, by outcome, and the reference codes."""
        t = self.t
        lines = Lines()
        n = len(referrals)
        lines.add(
            t.ngettext(
                "{n} new referral arrived at once",
                "{n} new referrals arrived at once",
                n,
            ),
            bold=True,
        )
        by_outcome = Counter(r.outcome for r in referrals)
        for outcome, count in sorted(by_outcome.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.add(self.pair(self.outcome(outcome), t.number(count)))
        lines.gap()
        codes = [r.ref_code for r in referrals]
        lines.add(t.gettext("Reference codes: {codes}", codes=", ".join(codes[:max_codes])))
        if n > max_codes:
            lines.add(t.ngettext("… and {n} more", "… and {n} more", n - max_codes))
        lines.gap()
        lines.add(
            t.gettext(
                "All of them are in the CSV file below. "
                "Use /referrals to open the card of one of them."
            )
        )
        return lines.text()

    def digest_caption(self, count: int) -> str:
        return self.t.ngettext(
            "The {n} referral of the digest", "The {n} referrals of the digest", count
        )

    def reminder(self, refs: Sequence[str], hours: int, *, max_codes: int = 100) -> Text:
        t = self.t
        lines = Lines()
        lines.add(
            t.ngettext(
                "⏰ Reminder: {n} referral has not been acknowledged for {hours} hours",
                "⏰ Reminder: {n} referrals have not been acknowledged for {hours} hours",
                len(refs),
                hours=t.number(hours),
            ),
            bold=True,
        )
        lines.add(", ".join(refs[:max_codes]))
        if len(refs) > max_codes:
            lines.add(t.ngettext("… and {n} more", "… and {n} more", len(refs) - max_codes))
        lines.add(t.gettext("Use /referrals to see the open referrals."))
        return lines.text()

    def open_list(self, referrals: Sequence[ReferralDetails], *, max_rows: int = 40) -> Text:
        """``/referrals``: the open referrals, oldest first."""
        t = self.t
        lines = Lines()
        if not referrals:
            lines.add(t.gettext("No open referrals."))
            return lines.text()
        lines.add(t.ngettext("{n} open referral", "{n} open referrals", len(referrals)), bold=True)
        for r in referrals[:max_rows]:
            lines.add(
                " · ".join(
                    (
                        r.ref_code,
                        self.outcome(r.outcome),
                        self.status(r.status),
                        team_time(r.created_at),
                    )
                )
            )
        if len(referrals) > max_rows:
            lines.add(
                t.ngettext(
                    "… and {n} more: see /export",
                    "… and {n} more: see /export",
                    len(referrals) - max_rows,
                )
            )
        return lines.text()

    def export_caption(self, count: int, at: datetime) -> str:
        return self.t.ngettext(
            "{n} referral, exported {time}",
            "{n} referrals, exported {time}",
            count,
            time=team_time(at),
        )

    def stats_caption(self, at: datetime) -> str:
        return self.t.gettext("Screening funnel, {time}", time=team_time(at))

    def email_subject(self, details: ReferralDetails) -> str:
        return self.t.gettext(
            "Referral {ref}: {outcome}", ref=details.ref_code, outcome=self.outcome(details.outcome)
        )

    # -- answers to coordinators -------------------------------------------------------------

    def refused_not_coordinator(self) -> str:
        return self.t.gettext("Sorry, only the study coordinators can do this.")

    def stale(self) -> str:
        return self.t.gettext("This card was out of date. It now shows the current status.")

    def gone(self) -> str:
        return self.t.gettext("This referral no longer exists.")

    def saved(self, status: str) -> str:
        return self.t.gettext("Saved: {status}", status=self.status(status))

    def attempt_saved(self, attempts: int) -> str:
        return self.t.ngettext("{n} call attempt recorded", "{n} call attempts recorded", attempts)

    def failed(self) -> str:
        return self.t.gettext("That did not work. Please try again in a moment.")


def refused_elsewhere(t: Translator) -> str:
    """For a person outside the team chat, in their own language."""
    return t.gettext("Sorry, this only works in the study team's chat.")


def patient_notice(t: Translator, ref: str) -> str:
    """What the patient reads when a coordinator first acknowledges their referral."""
    return t.gettext(
        "Good news: the study team has your details and will call you. "
        "Your reference code is {ref}.",
        ref=ref,
    )

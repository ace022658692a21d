"""Every word of the console, in one account's language, through the same catalogs as the bot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time

from bot.i18n import Translator
from bot.team.cards import TeamTexts


def labels(t: Translator) -> dict[str, str]:
    """The console's fixed words (templates use them by key), from every page area."""
    return {**_account_words(t), **_list_words(t), **_referral_words(t), **_page_words(t)}


def _account_words(t: Translator) -> dict[str, str]:
    """Signing in, passwords, the header and its language switch."""
    return {
        "title": t.gettext("Study team console"),
        "sign_in": t.gettext("Sign in"),
        "sign_out": t.gettext("Sign out"),
        "name": t.gettext("Account name"),
        "password": t.gettext("Password"),
        "wrong": t.gettext("The name or the password is wrong."),
        "locked": t.gettext(
            "This account is locked after too many wrong passwords. Ask the administrator "
            "to unlock it."
        ),
        "too_fast": t.gettext("Too many tries. Wait a minute, then try again."),
        "new_password": t.gettext("Choose your own password"),
        "new_password_help": t.gettext("At least 12 characters. Only you should know it."),
        "too_short": t.gettext("This password is too short: use at least 12 characters."),
        "save": t.gettext("Save"),
        "console_language": t.gettext("Console language"),
        "switch_language": t.gettext("Switch"),
        "unknown_language": t.gettext(
            "The console does not speak this language. Choose one from the list."
        ),
    }


def _list_words(t: Translator) -> dict[str, str]:
    """The referrals list, its filters and the export."""
    return {
        "referrals": t.gettext("Referrals"),
        "filter": t.gettext("Filter"),
        "all": t.gettext("All"),
        "status": t.gettext("Status"),
        "outcome": t.gettext("Outcome"),
        "language": t.gettext("Language"),
        "source": t.gettext("Source"),
        "received": t.gettext("Received"),
        "reminded": t.gettext("Reminder sent"),
        "not_reminded": t.gettext("No reminder sent"),
        "none_found": t.gettext("No referrals match."),
        "export": t.gettext("Download all referrals (CSV)"),
        "from": t.gettext("From"),
        "to": t.gettext("To"),
    }


def _referral_words(t: Translator) -> dict[str, str]:
    """A referral's page: contact, criteria, answers, history, status buttons and notes."""
    return {
        "contact": t.gettext("Contact"),
        "show_contact": t.gettext("Show contact details"),
        "contact_audited": t.gettext("Opening the contact details is recorded."),
        "criteria": t.gettext("Criteria"),
        "answers": t.gettext("Answers"),
        "their_words": t.gettext("Patient's own words"),
        "history": t.gettext("Status history"),
        "by": t.gettext("By"),
        "change_status": t.gettext("Change the status"),
        "stale": t.gettext("Someone changed this referral meanwhile. Here is how it is now."),
        "saved": t.gettext("Saved."),
        "telegram_team": t.gettext("Telegram team chat"),
        "protocol": t.gettext("Protocol"),
        "notes": t.gettext("Notes"),
        "no_notes": t.gettext("No notes yet."),
        "add_note": t.gettext("Add a note"),
        "note_added": t.gettext("Note added."),
        "note_empty": t.gettext("The note is empty."),
    }


def _page_words(t: Translator) -> dict[str, str]:
    """Counts, the flow, and the one-sentence pages (not found, forbidden, refused)."""
    return {
        "counts": t.gettext("Counts"),
        "stage": t.gettext("Stage"),
        "people": t.gettext("People"),
        "flow": t.gettext("Flow"),
        "flow_help": t.gettext("The questions the bot asks, in order, and when each is asked."),
        "protocol_version": t.gettext("Protocol version"),
        "flow_version": t.gettext("Flow version"),
        "not_found": t.gettext("This page does not exist."),
        "forbidden": t.gettext("Your account cannot open this page."),
        "refused": t.gettext("This form was too old or came from elsewhere. Please try again."),
    }


class ConsoleTexts:
    """The console's words and times for one language and the hospital's time zone."""

    def __init__(self, lang: str, timezone: str) -> None:
        self.team = TeamTexts(lang)
        self.t = self.team.t
        self.lang = self.team.lang
        self.rtl = self.t.rtl
        self.zone = ZoneInfo(timezone)
        self.words = labels(self.t)
        self.locale = Locale.parse(self.t.locale)
        self._pattern = str(self.locale.datetime_formats["medium"])  # "{1}, {0}": date, time

    def time(self, moment: datetime | None) -> str:
        """A time in the hospital's time zone, written the way this language writes it."""
        if moment is None:
            return "—"
        here = moment.astimezone(self.zone)
        hour = format_time(here, "short", locale=self.locale)
        return self._pattern.format(hour, format_date(here, "medium", locale=self.locale))

    def age(self, moment: datetime, now: datetime) -> str:
        """How long ago, in hours under two days and in days after."""
        hours = max(0, int((now - moment).total_seconds() // 3600))
        if hours < 48:
            return self.t.ngettext("{n} hour", "{n} hours", hours)
        return self.t.ngettext("{n} day", "{n} days", hours // 24)

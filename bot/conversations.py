"""One inbound event for one person: load, run the engine, commit, and only then reply.

This is where the channel-free engine meets durable storage. Channels (Telegram, and
any other) call :meth:`Conversations.handle` and send the replies it returns; nothing
is returned before the answers and the new record are committed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.config import Settings
from bot.engine.engine import Engine
from bot.engine.events import AlertsChoice, Event, Referral, Result
from bot.engine.machine import DONE
from bot.engine.outdated import erases, outdated, start_again
from bot.engine.record import Conversation
from bot.storage.store import Store
from bot.storage.turns import Turn

log = logging.getLogger(__name__)

#: The channel part of a person's key: Telegram and WeChat.
TELEGRAM, WECHAT = "tg", "wx"


def log_handled(what: str, ident: object, kind: str, started: float, result: Result) -> None:
    """Log one handled event: its id, kind, time and counts (no personal data)."""
    log.info(
        "%s %s: %s handled in %.1f ms, %d replies%s",
        what,
        ident,
        kind,
        (time.perf_counter() - started) * 1000,
        len(result.replies),
        f", outcome {result.outcome.outcome}" if result.outcome else "",
    )


def person_key(channel: str, user_id: int | str) -> str:
    """The channel-qualified user id the store hashes (``"tg:12345"``, ``"wx:<openid>"``)."""
    return f"{channel}:{user_id}"


@dataclass(frozen=True)
class Inbound:
    """Who an event comes from, and what the channel knows about them."""

    user_key: str  # channel-qualified id, e.g. "tg:12345"; hashed by the store
    chat_id: int | None = None  # where replies go (kept encrypted)
    update_id: int | None = None  # for at-least-once de-duplication
    lang_hint: str = ""  # the channel's language code, used for a new conversation
    source: str = ""  # outreach source from a deep link, kept on a new conversation


class Conversations:
    """Run events through the engine with every change committed before the reply."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        *,
        email_handoff: bool = False,
        wecom_handoff: bool = False,
    ) -> None:
        self.engine = engine
        self.store = store
        self.email_handoff = email_handoff
        self.wecom_handoff = wecom_handoff  # a card for the WeCom robot too (bot/team/wecom.py)

    @classmethod
    def from_settings(cls, engine: Engine, store: Store, settings: Settings) -> Conversations:
        """The service with the team destinations the settings name (e-mail, WeCom)."""
        return cls(
            engine,
            store,
            email_handoff=bool(settings.handoff_email),
            wecom_handoff=settings.wecom_robot_key is not None,
        )

    def _restore(self, turn: Turn, inbound: Inbound) -> Conversation:
        record = turn.record
        if record is not None:
            try:
                conv = Conversation.from_json(record)
            except (KeyError, TypeError, ValueError):
                log.warning("unreadable conversation record; starting again")
            else:
                known = self.engine.knows_state(conv.state)
                if conv.flow_id == self.engine.flow.id and (
                    known or outdated(self.engine.flow, conv)
                ):
                    return conv
        return self.engine.new(inbound.lang_hint, inbound.source)

    async def handle(self, inbound: Inbound, event: Event) -> Result | None:
        """Apply ``event``; return its result, or None when the update was already handled."""
        async with self.store.turn(inbound.user_key, inbound.update_id) as turn:
            if turn.duplicate:
                return None
            conv = self._restore(turn, inbound)
            if inbound.source and not conv.source and not conv.history:
                conv.source = inbound.source
            if outdated(self.engine.flow, conv) and not erases(event):
                result = start_again(self.engine, conv)  # an older version's questions
            else:
                result = self.engine.handle(conv, event)
            if result.erase:
                if not turn.is_new:
                    turn.erase()
                return result
            turn.save(
                conv.to_json(),
                status="finished" if conv.state == DONE else "active",
                chat_id=inbound.chat_id,
            )
            for fact, answer in result.answered:
                turn.add_answer(fact, answer.value, answer.raw, answer.unit)
            if result.outcome is not None:
                turn.set_outcome(
                    result.outcome.outcome,
                    failed=list(result.outcome.failed),
                    unknown=list(result.outcome.unknown),
                    flow_id=self.engine.flow.id,
                    protocol_version=self.engine.flow.protocol,
                )
            if result.alerts is AlertsChoice.OPT_IN:
                turn.opt_in_alerts(conv.lang)
            elif result.alerts is AlertsChoice.OPT_OUT:
                turn.opt_out_alerts()
            for kind, granted, wording in result.consents:
                turn.add_consent(kind, granted, wording, conv.lang)
            if result.referral is not None:
                self._hand_over(turn, result.referral, result.contact or {}, event)
        return result

    def _hand_over(
        self, turn: Turn, referral: Referral, contact: dict[str, str], event: Event
    ) -> None:
        """Keep the contact details and the referral, and queue one card per destination."""
        turn.save_contact(
            name=contact.get("name"),
            phone=contact.get("phone"),
            email=contact.get("email"),
            username=event.username or None,
            best_time=contact.get("best_time"),
            call_lang=contact.get("call_lang"),
        )
        ref = turn.create_referral(referral.outcome, code=referral.ref)
        turn.enqueue("referral_card", ref, {"ref": ref})
        if self.email_handoff:
            turn.enqueue("referral_email", f"mail:{ref}", {"ref": ref})
        if self.wecom_handoff:
            turn.enqueue("wecom_card", f"wecom:{ref}", {"ref": ref})

    async def current(self, inbound: Inbound) -> Conversation:
        """Return the person's conversation as stored (a new one when there is none)."""
        async with self.store.turn(inbound.user_key, None) as turn:
            return self._restore(turn, inbound)

    async def prompt(self, inbound: Inbound) -> Result:
        """Return the current question again, changing nothing.

        A finished screening that ended with a referral shows its confirmation (with the
        reference code) again: this is what a person whose last answer committed just
        before a crash has not seen yet.
        """
        conv = await self.current(inbound)
        if outdated(self.engine.flow, conv):
            return start_again(self.engine, conv)  # said again, saved with the next message
        result = self.engine.prompt(conv)
        ref = (conv.outcome or {}).get("ref")
        if conv.state == DONE and isinstance(ref, str) and ref:
            handoff = self.engine.consent
            result.replies[:] = [handoff.render.handed_off(conv, ref, handoff.promise_days)]
        return result

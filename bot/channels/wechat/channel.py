"""WeChat messages in, engine events through the Conversations service, text replies out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot import crashpoints
from bot.channels.telegram.handlers import parse_payload
from bot.channels.wechat import text as wxtext
from bot.channels.wechat.api import NOT_ALLOWED, WeChatAPI, WeChatAPIError
from bot.channels.wechat.protocol import Incoming, Protocol
from bot.conversations import WECHAT, Conversations, Inbound, log_handled, person_key
from bot.engine.events import COMMANDS, Event, Reply, Result
from bot.i18n import Translator, get_catalogs
from bot.ratelimit import FloodGuard

log = logging.getLogger(__name__)
#: Longest pause before handling a quick message; beyond it the patient is asked to slow down.
MAX_PACING_WAIT = 2.0
DEFAULT_LANG = "zh-Hans"  # an Official Account does not say the person's language
REMEMBERED = 10_000  # answers kept to give WeChat's retries the same reply
SEND_BUDGET = 3.0  # seconds for a menu sent before the passive reply (WeChat waits 5 s)
HINT_BYTES = 200  # room kept in a passive part for the "reply 0" line


@dataclass
class Turn:
    """What one message made: the passive reply, and the texts that follow it."""

    passive: str
    later: list[wxtext.Part] = field(default_factory=list)
    openid: str = ""  # where the later texts go


class WeChatChannel:
    """Answer the server messages of one Official Account."""

    def __init__(
        self,
        conversations: Conversations,
        protocol: Protocol,
        api: WeChatAPI | None = None,
        flood: FloodGuard | None = None,
        *,
        menus: bool = False,
    ) -> None:
        self.conversations = conversations
        self.protocol = protocol
        self.api = api  # set when the account may send customer-service messages
        self.menus = menus and api is not None  # and menu messages (msgmenu)
        self.flood = flood or FloodGuard()
        self.turns: OrderedDict[int, asyncio.Future[Turn]] = OrderedDict()
        #: Without customer-service messages: the parts of a long turn not shown yet.
        self.more: OrderedDict[str, list[str]] = OrderedDict()

    async def answer(self, query: Mapping[str, str], body: bytes) -> tuple[str, Turn]:
        """Return the passive reply body for a POST, and the turn behind it.

        A retry of a message being handled, or handled by this process, gets the same
        reply; raises ProtocolError for a request that is not WeChat's.
        """
        message = self.protocol.read(query, body)
        known = self.turns.get(message.dedup_id)
        if known is None:
            known = asyncio.get_running_loop().create_future()
            self.turns[message.dedup_id] = known
            if len(self.turns) > REMEMBERED:
                self.turns.popitem(last=False)
            try:
                known.set_result(await self._turn(message))
            except BaseException as exc:
                del self.turns[message.dedup_id]
                known.set_exception(exc)
                raise
        else:
            log.info("message %s: retried by WeChat, same reply", message.dedup_id)
        turn = await asyncio.shield(known)
        return self.protocol.reply(message, turn.passive, query.get("nonce", "")), turn

    async def send_later(self, turn: Turn) -> None:
        """Send a turn's remaining parts as customer-service messages, in order."""
        if self.api is None:
            return
        later, turn.later = turn.later, []  # a retry's reply must not send them twice
        for part in later:
            if not await self._send(turn.openid, part):
                return

    async def _send(self, openid: str, part: wxtext.Part) -> bool:
        """Send one customer-service message; a menu the account may not send goes as text."""
        assert self.api is not None
        try:
            if isinstance(part, wxtext.Menu) and self.menus:
                items = [{"id": key, "content": content} for key, content in part.items]
                try:
                    await self.api.send_menu(openid, part.head, items, part.tail)
                    return True
                except WeChatAPIError as exc:
                    if exc.errcode not in NOT_ALLOWED:
                        raise
                    log.warning("menu messages refused (%s): numbered text instead", exc.errcode)
                    self.menus = False
            text = part.as_text() if isinstance(part, wxtext.Menu) else part
            await self.api.send_text(openid, text)
            return True
        except Exception as exc:
            log.error("customer-service message failed: %s", type(exc).__name__)
            return False

    async def _turn(self, message: Incoming) -> Turn:
        started = time.perf_counter()
        if message.kind == "unsubscribe":
            return Turn("")
        source, lang = parse_payload(message.text) if message.kind == "start" else ("", "")
        inbound = Inbound(
            user_key=person_key(WECHAT, message.openid),
            update_id=message.dedup_id,
            lang_hint=lang or DEFAULT_LANG,
            source=source,
        )
        wait = self.flood.delay(inbound.user_key)
        if wait > MAX_PACING_WAIT:  # a real flood: WeChat waits only 5 s for the reply
            log.info("message %s: flood control, %.1f s behind", message.dedup_id, wait)
            return Turn(self._slow_down(inbound))
        if wait:
            await asyncio.sleep(wait)  # slowed down, not dropped: the answer still counts
        more = await self._more(message, inbound)
        if more is not None:
            return more
        event = await self._event(message, inbound, lang)
        result = await self.conversations.handle(inbound, event)
        crashpoints.reached("committed", event.kind)  # crash tests: committed, no reply yet
        if result is None:  # handled before a restart: show where the conversation stands
            log.info("message %s: handled before; current question sent again", message.dedup_id)
            result = await self.conversations.prompt(inbound)
        turn = await self._plan(message.openid, inbound, result)
        log_handled("message", message.dedup_id, event.kind, started, result)
        return turn

    async def _event(self, message: Incoming, inbound: Inbound, lang: str) -> Event:
        """Translate a message into an engine event."""
        if message.kind == "start":
            return Event.start(lang)
        if message.kind == "click":
            key = message.text.strip().lower()
            if key == "start":
                return Event.start()
            return Event.cmd(key) if key in COMMANDS else Event.other("media")
        if message.kind == "voice" and not message.text:
            return Event.other("media")
        if message.kind in ("text", "voice"):
            offered = await self._offered(inbound)
            typed = (
                message.text.strip().rstrip("。.!！") if message.kind == "voice" else message.text
            )
            return wxtext.to_event(typed, offered, message.clicked)
        return Event.other("media")

    async def _offered(self, inbound: Inbound) -> Reply | None:
        """Return the question the person was last asked (its options can be typed as numbers)."""
        asked = await self.conversations.prompt(Inbound(inbound.user_key, lang_hint=DEFAULT_LANG))
        return next((r for r in reversed(asked.replies) if r.step), None)

    async def _plan(self, openid: str, inbound: Inbound, result: Result) -> Turn:
        """Return the passive reply and the parts that follow it."""
        conv = await self.conversations.current(Inbound(inbound.user_key, lang_hint=DEFAULT_LANG))
        t = get_catalogs().get(conv.lang)
        rendered: list[wxtext.Part] = []
        for reply in result.replies:
            shown = wxtext.menu(reply, t) if self.menus else None
            rendered.append(shown if shown is not None else wxtext.render(reply, t))
        if self.api is None:
            texts = wxtext.parts(rendered, wxtext.PART_BYTES - HINT_BYTES)
            return self._shown(openid, [str(p) for p in texts], t)
        parts = wxtext.parts(rendered)
        if not parts:
            return Turn("", openid=openid)
        first = parts[0]
        if isinstance(first, wxtext.Menu):  # a passive reply cannot be a menu: send it now
            try:
                sent = await asyncio.wait_for(self._send(openid, first), SEND_BUDGET)
            except TimeoutError:
                sent = False
            return Turn("" if sent else first.as_text(), parts[1:], openid)
        return Turn(first, parts[1:], openid)

    def _shown(self, openid: str, texts: list[str], t: Translator) -> Turn:
        """Return the first text as the passive reply; keep the rest for "reply 0"."""
        self.more.pop(openid, None)
        if len(texts) <= 1:
            return Turn(texts[0] if texts else "", openid=openid)
        self.more[openid] = texts[1:]
        if len(self.more) > REMEMBERED:
            self.more.popitem(last=False)
        return Turn(f"{texts[0]}\n\n{t.gettext(wxtext.MORE)}", openid=openid)

    async def _more(self, message: Incoming, inbound: Inbound) -> Turn | None:
        """Return the next part of a long turn when the person typed 0 for it."""
        typed = message.text.strip() if message.kind == "text" else ""
        if typed not in (wxtext.MORE_KEY, wxtext.fullwidth(wxtext.MORE_KEY)):
            self.more.pop(message.openid, None)
            return None
        rest = self.more.get(message.openid)
        if not rest:
            return None
        conv = await self.conversations.current(Inbound(inbound.user_key, lang_hint=DEFAULT_LANG))
        return self._shown(message.openid, rest, get_catalogs().get(conv.lang))

    def _slow_down(self, inbound: Inbound) -> str:
        t = get_catalogs().get(inbound.lang_hint)
        return t.gettext("You are sending messages very fast. Please wait a moment, then go on.")

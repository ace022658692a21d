"""The WeCom group robot (群机器人) as a study-team destination, through the outbox.

A robot only posts: ``POST {WECOM_BASE_URL}/cgi-bin/webhook/send?key=KEY`` with
``{"msgtype": "markdown", "markdown": {"content": ...}}`` (content at most 4,096 bytes of
UTF-8); WeCom answers ``{"errcode": 0, "errmsg": "ok"}``, errcode 45009 beyond 20 messages a
minute per robot, 93000 for a key it does not know, 40058 for content that is too long.

What a WeCom card shows: the reference code, the outcome, when it arrived, and a link to the
referral in the web console (``WEB_BASE_URL`` + ``/referrals/<ref>``). No contact details, no
answers: a robot's message can be neither edited nor recalled, so nothing that an erasure or
the retention period must reach is ever posted there. Coordinators act in the console.

The outbox kinds (one item per destination, so each destination gets each card once):
``wecom_card`` (dedupe ``wecom:<ref>``), ``wecom_digest`` (``wecom:digest:<hash>:<part>``, a
burst's reference codes, every one in some part) and ``wecom_reminder``
(``wecom:remind:<...>``). They go through the same claims, leases, retries and burst rule as
the Telegram team chat (:class:`bot.team.outbox.Route`), paced by their own
:class:`~bot.team.pacing.Pacer` (``WECOM_PER_MINUTE`` in ``WECOM_WINDOW_SECONDS``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bot.storage.store import OutboxItem, ReferralDetails, Store
from bot.team.cards import TeamTexts, team_time
from bot.team.items import digest_key
from bot.team.outbox import Route
from bot.team.pacing import Pacer
from bot.team.reminders import WECOM_REMINDER
from bot.team.sending import SendError

log = logging.getLogger(__name__)

WECOM_CARD = "wecom_card"
WECOM_DIGEST = "wecom_digest"
WECOM_KINDS = (WECOM_CARD, WECOM_DIGEST, WECOM_REMINDER)
MAX_BYTES = 4096  # markdown.content, UTF-8
CODES_PER_DIGEST = 150  # 150 codes of 12 characters: under half the limit, with the words
MAX_REMINDER_CODES = 150
SEND_PATH = "/cgi-bin/webhook/send"
RATE_LIMITED = 45009
#: refusals that do not pass by themselves (a wrong key, a message WeCom will never take)
PERMANENT = frozenset({93000, 40058, 40008, 44004, 40035})


def fit(content: str, limit: int = MAX_BYTES) -> str:
    """``content`` within ``limit`` bytes of UTF-8, cut at a line's end with "…" if too long."""
    data = content.encode()
    if len(data) <= limit:
        return content
    mark = "\n…"
    head = data[: limit - len(mark.encode())].decode(errors="ignore")
    cut = head.rfind("\n")
    return (head[:cut] if cut > 0 else head) + mark


class WeComRobot:
    """Posts markdown messages through one group robot, paced within its limit."""

    def __init__(
        self,
        base_url: str,
        key: str,
        pacer: Pacer,
        *,
        window: float = 60.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + SEND_PATH
        self._key = key
        self.pacer = pacer
        self.window = window
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def close(self) -> None:
        await self.http.aclose()

    async def send_markdown(self, content: str) -> None:
        """Post one message; raise SendError (never with the key in it) when WeCom refuses."""
        body = {"msgtype": "markdown", "markdown": {"content": fit(content)}}
        async with self.pacer.slot():
            try:
                response = await self.http.post(self.url, params={"key": self._key}, json=body)
            except httpx.HTTPError as exc:
                raise SendError(f"WeCom {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SendError(f"WeCom HTTP {response.status_code}")
        try:
            answer: Any = response.json()
            errcode = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError):
            raise SendError("WeCom answer unreadable") from None
        if errcode == 0:
            return
        if errcode == RATE_LIMITED:
            self.pacer.block(self.window)
            raise SendError("WeCom 45009 (rate limit)", retry_after=self.window)
        if errcode == 93000:
            log.error("WeCom refused WECOM_ROBOT_KEY (93000): check the robot's webhook key")
        raise SendError(f"WeCom errcode {errcode}", permanent=errcode in PERMANENT)


class WeComTexts:
    """The markdown the robot posts, in the team's language (TEAM_LANGUAGE)."""

    def __init__(self, texts: TeamTexts, console_url: str) -> None:
        self.texts = texts
        self.t = texts.t
        self.console = console_url.rstrip("/")

    def link(self, ref: str | None = None) -> str:
        """The console's page of one referral, or its list of referrals."""
        return f"{self.console}/referrals/{ref}" if ref else f"{self.console}/referrals"

    def _open_one(self) -> str:
        return self.t.gettext("Open in the web console")

    def _open_list(self) -> str:
        return self.t.gettext("Open the list in the web console")

    def card(self, details: ReferralDetails) -> str:
        t = self.t
        return "\n".join(
            [
                "**" + t.gettext("New referral {ref}", ref=details.ref_code) + "**",
                "> " + t.gettext("Outcome: {outcome}", outcome=self.texts.outcome(details.outcome)),
                "> " + t.gettext("Received: {time}", time=team_time(details.created_at)),
                f"[{self._open_one()}]({self.link(details.ref_code)})",
                t.gettext("Contact details and answers are only in the web console."),
            ]
        )

    def digest(self, found: Sequence[ReferralDetails], total: int, part: int, parts: int) -> str:
        t = self.t
        lines = [
            "**"
            + t.ngettext(
                "{n} new referral arrived at once", "{n} new referrals arrived at once", total
            )
            + "**"
        ]
        if parts > 1:
            lines.append(t.gettext("Part {part} of {parts}", part=part, parts=parts))
        counts = Counter(r.outcome for r in found)
        for outcome, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append("> " + self.texts.pair(self.texts.outcome(outcome), t.number(count)))
        codes = ", ".join(r.ref_code for r in found)
        lines.append(t.gettext("Reference codes: {codes}", codes=codes))
        lines.append(f"[{self._open_list()}]({self.link()})")
        return "\n".join(lines)

    def reminder(self, refs: Sequence[str], hours: int) -> str:
        t = self.t
        head = t.ngettext(
            "⏰ Reminder: {n} referral has not been acknowledged for {hours} hours",
            "⏰ Reminder: {n} referrals have not been acknowledged for {hours} hours",
            len(refs),
            hours=t.number(hours),
        )
        lines = ["**" + head + "**", ", ".join(refs[:MAX_REMINDER_CODES])]
        if len(refs) > MAX_REMINDER_CODES:
            more = len(refs) - MAX_REMINDER_CODES
            lines.append(t.ngettext("… and {n} more", "… and {n} more", more))
        lines.append(f"[{self._open_list()}]({self.link()})")
        return "\n".join(lines)


class WeComDestination:
    """The robot's lane for the outbox worker: its :class:`Route`, items and digests."""

    def __init__(self, store: Store, robot: WeComRobot, texts: WeComTexts) -> None:
        self.store = store
        self.robot = robot
        self.texts = texts

    def route(self) -> Route:
        others = (WECOM_DIGEST, WECOM_REMINDER)
        return Route("wecom", self.robot.pacer, WECOM_CARD, others, self.handle, self.digest)

    async def handle(self, item: OutboxItem) -> None:
        """Post one item (an erased referral is skipped: nothing to say about it)."""
        payload = item.payload
        if item.kind == WECOM_CARD:
            details = await self.store.referral(str(payload.get("ref") or ""))
            if details is None:
                log.info("outbox: WeCom card skipped (the referral was erased)")
                return
            await self.robot.send_markdown(self.texts.card(details))
        elif item.kind == WECOM_DIGEST:
            found = await self._existing(payload.get("refs", []))
            if found:
                total = int(payload.get("total", len(found)))
                part, parts = int(payload.get("part", 1)), int(payload.get("parts", 1))
                await self.robot.send_markdown(self.texts.digest(found, total, part, parts))
        elif item.kind == WECOM_REMINDER:
            waiting = [
                d.ref_code
                for d in await self._existing(payload.get("refs", []))
                if d.acknowledged_at is None
            ]
            if waiting:
                hours = int(payload.get("hours", 0))
                await self.robot.send_markdown(self.texts.reminder(waiting, hours))
        else:
            log.warning("outbox: unknown WeCom kind %s; dropped", item.kind)

    async def digest(self, refs: list[str]) -> None:
        """Queue a burst's digest: every reference code, in parts that each fit one message."""
        key = digest_key(refs)
        chunks = [refs[i : i + CODES_PER_DIGEST] for i in range(0, len(refs), CODES_PER_DIGEST)]
        for number, chunk in enumerate(chunks, start=1):
            payload = {"refs": chunk, "part": number, "parts": len(chunks), "total": len(refs)}
            await self.store.enqueue(WECOM_DIGEST, f"wecom:digest:{key}:{number}", payload)

    async def _existing(self, refs: Sequence[str]) -> list[ReferralDetails]:
        """The referrals among ``refs`` that still exist, in the order given."""
        if len(refs) > 20:  # one query for the lot
            by_ref = {d.ref_code: d for d in await self.store.referrals()}
            return [by_ref[ref] for ref in refs if ref in by_ref]
        return [d for d in [await self.store.referral(ref) for ref in refs] if d is not None]

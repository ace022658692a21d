"""Who may act in the study team's chat: its members, and only the listed ids when listed."""

from __future__ import annotations

import logging
from collections.abc import Collection

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


class Gatekeeper:
    """Who may act: members of the team chat, and only the listed ids when there is a list.

    Membership is asked of Telegram on every action (nothing is cached), so a coordinator
    removed from the team chat loses access at once. Presses are few; one getChatMember each
    is cheap next to the edit that follows."""

    def __init__(
        self, bot: Bot, team_chat_id: int | None, allowed_ids: Collection[int] = ()
    ) -> None:
        self.bot = bot
        self.team_chat_id = team_chat_id
        self.allowed_ids = frozenset(allowed_ids)

    async def refusal(self, user_id: int) -> str | None:
        """None when the user may act, else why not (``not_listed``, ``not_member``, ...)."""
        if self.team_chat_id is None:
            return "no_team_chat"
        if self.allowed_ids and user_id not in self.allowed_ids:
            return "not_listed"
        try:
            member = await self.bot.get_chat_member(self.team_chat_id, user_id)
        except TelegramError as exc:
            log.warning("team: membership check failed (%s)", type(exc).__name__)
            return "check_failed"
        ok = member.status in MEMBER_STATUSES or (
            member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", 0))
        )
        return None if ok else "not_member"

"""Cards that follow changes made outside the team chat (the web console): the console
queues a ``card_edit`` per change, and the outbox edits the card already posted."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.storage.store import Store
from bot.team import CARD_EDIT
from bot.team.cards import LastChange, TeamTexts

if TYPE_CHECKING:
    from bot.team.sending import Sender


async def queue_card_edit(
    store: Store, ref: str, by: str, action: str, at: datetime, attempts: int
) -> None:
    """Queue the card's refresh after one change (the dedupe key names that change)."""
    payload = {"ref": ref, "by": by, "action": action, "at": at.isoformat()}
    await store.enqueue(CARD_EDIT, f"edit:{ref}:{action}:{attempts}:{at.isoformat()}", payload)


async def edit_card(
    store: Store, sender: Sender, texts: TeamTexts, payload: dict[str, Any]
) -> None:
    """Edit the card of ``payload["ref"]`` to its state now, naming who changed it last."""
    details = await store.referral(str(payload.get("ref", "")))
    if details is None or details.card_message_id is None:
        return  # erased (its card is redacted), or not posted yet (it will be current)
    at = datetime.fromisoformat(str(payload["at"]))
    last = LastChange(str(payload.get("by", "")), at, str(payload.get("action", "")))
    await sender.update_card(details.card_message_id, texts.card(details, last))

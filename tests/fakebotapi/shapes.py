"""Telegram object shapes the fake answers with, and its record of a chat."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .models import SentMessage, StoredFile

JSONDict = dict[str, Any]
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})


@dataclass(eq=False)
class Chat:
    """A chat the fake knows: members, messages both ways, the shown keyboard."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1
    bot_messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, JSONDict] = field(default_factory=dict)
    deleted_user_messages: set[int] = field(default_factory=set)
    timeline: list[tuple[str, Any]] = field(default_factory=list)
    keyboard: JSONDict | None = None
    blocked: bool = False

    def has_user_message(self, message_id: int) -> bool:
        """Return whether the user's message exists and was not deleted."""
        return message_id in self.user_messages and message_id not in self.deleted_user_messages

    def take_message_id(self) -> int:
        """Return the next message id of this chat (shared by the user and the bot)."""
        self.next_message_id += 1
        return self.next_message_id - 1


def now() -> int:
    """Return the Unix time Telegram puts in dates."""
    return int(time.time())


def file_json(stored: StoredFile) -> JSONDict:
    """Return a Document object."""
    out: JSONDict = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.filename:
        out["file_name"] = stored.filename
    if stored.mime_type:
        out["mime_type"] = stored.mime_type
    return out


def photo_json(stored: StoredFile) -> list[JSONDict]:
    """Return the PhotoSize list of a photo."""
    return [
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "width": stored.width,
            "height": stored.height,
        }
    ]


def is_inline(markup: JSONDict | None) -> bool:
    """Return whether a reply_markup is an inline keyboard."""
    return isinstance(markup, dict) and "inline_keyboard" in markup


def summary(message: JSONDict, deleted_flag: bool = False) -> str:
    """Return a user message in a few words, for transcripts."""
    deleted = " (deleted)" if deleted_flag else ""
    edited = " (edited)" if "edit_date" in message else ""
    for key in ("text", "caption"):
        if key in message:
            return f"{message[key]!r}{edited}{deleted}"
    kind = next(
        (
            k
            for k in ("contact", "sticker", "photo", "voice", "location", "document")
            if k in message
        ),
        "?",
    )
    detail = message.get(kind)
    if kind == "contact" and isinstance(detail, dict):
        return f"[contact {detail.get('phone_number')}]{deleted}"
    if kind == "sticker" and isinstance(detail, dict):
        return f"[sticker {detail.get('emoji')}]{deleted}"
    return f"[{kind}]{deleted}"


def member_json(status: str, user: JSONDict) -> JSONDict:
    """Return a ChatMember object of ``status`` with the fields PTB requires."""
    out: JSONDict = {"status": status, "user": user}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        out.update(
            dict.fromkeys(
                (
                    "can_be_edited",
                    "is_anonymous",
                    "can_promote_members",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                ),
                False,
            )
        )
        out.update(
            dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                ),
                True,
            )
        )
    elif status == "restricted":
        out.update(
            dict.fromkeys(
                (
                    "can_change_info",
                    "can_invite_users",
                    "can_pin_messages",
                    "can_send_messages",
                    "can_send_polls",
                    "can_send_other_messages",
                    "can_add_web_page_previews",
                    "can_manage_topics",
                    "can_send_audios",
                    "can_send_documents",
                    "can_send_photos",
                    "can_send_videos",
                    "can_send_video_notes",
                    "can_send_voice_notes",
                    "can_edit_tag",
                    "can_react_to_messages",
                ),
                False,
            )
        )
        out.update(is_member=True, until_date=0)
    elif status == "kicked":
        out["until_date"] = 0
    return out

"""The Official Account's server protocol: signatures, safe mode, parsing and passive replies.

wechatpy does the protocol's mechanics (the SHA-1 signatures, AES-CBC under the
EncodingAESKey with its padding and app-id check, XML parsing into typed messages and
the reply XML); this module turns its messages into :class:`Incoming` values.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

Kind = Literal["text", "voice", "start", "click", "unsubscribe", "other"]
SCENE_PREFIX = "qrscene_"  # a subscribe event's EventKey for a parameterised QR code
ID_BASE = 1 << 62  # de-duplication ids live above every Telegram update id


class ProtocolError(ValueError):
    """A request that is not from WeChat, or that cannot be read: refuse it."""


@dataclass(frozen=True)
class Incoming:
    """One message or event from a person, as the channel needs it."""

    openid: str  # FromUserName: the person, for this Official Account
    account: str  # ToUserName: the Official Account
    kind: Kind
    text: str = ""  # typed text, the speech recognition, the QR scene or the menu key
    dedup_id: int = 0  # the same for WeChat's retries of one message
    clicked: str = ""  # a menu answer: the item's id (``bizmsgmenuid``)


def dedup_id(key: str) -> int:
    """Return a stable 63-bit id for a message key (MsgId, or openid + CreateTime)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return ID_BASE | (int.from_bytes(digest, "big") & (ID_BASE - 1))


class Protocol:
    """Check, decrypt and read the server's requests; build the passive replies."""

    def __init__(self, token: str, app_id: str, aes_key: str | None, *, safe: bool) -> None:
        self.token = token
        self.safe = safe
        self.crypto = WeChatCrypto(token, aes_key, app_id) if safe and aes_key else None
        if safe and self.crypto is None:
            raise ValueError("safe mode needs the EncodingAESKey")

    def _check(self, query: Mapping[str, str]) -> None:
        try:
            check_signature(
                self.token, query.get("signature", ""), query["timestamp"], query["nonce"]
            )
        except Exception as exc:
            raise ProtocolError("bad signature") from exc

    def verify_url(self, query: Mapping[str, str]) -> str:
        """Return ``echostr`` when the URL check is signed with our token."""
        self._check(query)
        return query.get("echostr", "")

    def read(self, query: Mapping[str, str], body: bytes) -> Incoming:
        """Return the message of a POST, or raise ProtocolError."""
        self._check(query)
        xml: Any = body.decode("utf-8", errors="strict")
        if self.crypto is not None:
            try:
                xml = self.crypto.decrypt_message(
                    xml, query.get("msg_signature", ""), query["timestamp"], query["nonce"]
                )
            except Exception as exc:  # signature, key, padding or app id
                raise ProtocolError("cannot decrypt") from exc
        try:
            message = parse_message(xml)
        except Exception as exc:
            raise ProtocolError("unreadable XML") from exc
        if message is None or not message.source:
            raise ProtocolError("empty message")
        return incoming(message)

    def reply(self, to: Incoming, text: str, nonce: str) -> str:
        """Return the passive reply XML (encrypted in safe mode); empty text: ``success``."""
        if not text:
            return "success"
        xml = TextReply(source=to.account, target=to.openid, content=text).render()
        if self.crypto is None:
            return str(xml)
        return str(self.crypto.encrypt_message(xml, nonce, str(int(time.time()))))


def incoming(message: Any) -> Incoming:
    """Turn a wechatpy message or event into an :class:`Incoming`."""
    kind: Kind = "other"
    text = clicked = ""
    if message.type == "text":
        kind, text = "text", message.content or ""
        clicked = str(message._data.get("bizmsgmenuid") or "").strip()
    elif message.type == "voice":
        kind, text = "voice", (message.recognition or "").strip()
    elif message.type == "event":
        event = message.event
        if event in ("subscribe", "subscribe_scan", "scan"):
            kind = "start"
            text = str(getattr(message, "scene_id", "") or getattr(message, "key", "") or "")
            text = text.removeprefix(SCENE_PREFIX)
        elif event == "click":
            kind, text = "click", message.key or ""
        elif event == "unsubscribe":
            kind = "unsubscribe"
    openid, created = message.source, int(message.create_time.timestamp())
    key = f"msg:{message.id}" if message.id else f"evt:{openid}:{created}:{message.type}"
    return Incoming(openid, message.target, kind, text, dedup_id(key), clicked)

"""The fake platform: it posts people's messages to the bot's server URL as WeChat does, and
serves the access-token and customer-service endpoints on 127.0.0.1.

WeChat waits 5 seconds for the answer, drops the connection and sends the message again:
"重新发起请求，总共重试三次" (被动回复用户消息), three retries, so four deliveries in all
(``RETRIES``); ``timeout`` shortens the wait in tests, the retries stay the platform's. An
empty answer or ``success`` means "no reply". One passive reply per message, a text of at
most 2048 bytes; in safe mode it comes back encrypted and signed with ``MsgSignature``. A
reply WeChat cannot use is not shown: the person sees the platform's notice instead.

Customer-service messages (客服消息) are text (content at most 2048 bytes) or menus
(菜单消息 ``msgmenu``, certified accounts only: 40200 otherwise), within the documented
allowance: 5 messages after a person's message, 3 after a subscribe, scan or menu-click
event (45047 beyond). A click on a menu item comes back as a text message whose
``Content`` is the item's text and ``bizmsgmenuid`` its id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tornado.web import RequestHandler

from tests.fakehttp import LocalServer
from tests.fakewechat import crypto

ACCOUNT = "gh_0123456789ab"
RETRIES = 3  # after the first delivery
MAX_TEXT = 2048  # bytes of a text's content
UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"  # WeChat's notice for a reply it cannot use
#: 菜单消息 limits, in bytes (as 微信客服 documents them; the Official Account page gives none).
MENU_HEAD, MENU_ITEMS, MENU_ID, MENU_CONTENT = 1024, 10, 64, 128


@dataclass
class Sent:
    """One message the person received: a passive reply or a customer-service message."""

    openid: str
    text: str  # what the person reads (a menu: its head, items and tail, one per line)
    how: str  # "passive", "custom", "menu" or "system" (the platform's own notice)
    menu: tuple[tuple[str, str], ...] = ()  # a menu's items: (id, content)


@dataclass
class Delivery:
    """What posting one message did."""

    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    passive: str | None = None  # the reply's text; None when there was none


class _Token(RequestHandler):
    def initialize(self, fake: FakeWeChat) -> None:
        self.fake = fake

    def get(self) -> None:
        fake = self.fake
        if (
            self.get_query_argument("grant_type", "") != "client_credential"
            or self.get_query_argument("appid", "") != fake.app_id
            or self.get_query_argument("secret", "") != fake.app_secret
        ):
            self.write({"errcode": 40125, "errmsg": "invalid appsecret"})
            return
        fake.tokens_issued += 1
        fake.access_token = secrets.token_hex(16)
        self.write({"access_token": fake.access_token, "expires_in": 7200})


class _WithToken(RequestHandler):
    """An API endpoint that needs the current access token, as WeChat's do (40001 otherwise)."""

    def initialize(self, fake: FakeWeChat) -> None:
        self.fake = fake

    def authorised(self) -> bool:
        token = self.fake.access_token
        if token and self.get_query_argument("access_token", "") == token:
            return True
        self.write({"errcode": 40001, "errmsg": "invalid credential"})
        return False


class _Custom(_WithToken):
    """Customer-service messages (客服消息): text and menus, within the allowance."""

    def post(self) -> None:
        fake = self.fake
        if not self.authorised():
            return
        body = json.loads(self.request.body)
        openid, kind = body.get("touser", ""), body.get("msgtype")
        if kind == "text":
            text = Sent(openid, body["text"]["content"], "custom")
            sent: Sent | None = text
            error = (45002, "content size out of limit") if _too_long(text) else None
        elif kind == "msgmenu":
            sent, error = fake.read_menu(openid, body.get("msgmenu", {}))
        else:
            sent, error = None, (40008, "invalid message type")
        if error is None and fake.allowance.get(openid, 0) <= 0:
            error = (45047, "out of response count limit")
        if error is not None or sent is None:
            code, message = error or (40008, "invalid message type")
            fake.refused.append(message)
            self.write({"errcode": code, "errmsg": message})
            return
        fake.allowance[openid] -= 1
        fake.deliver(sent)
        self.write({"errcode": 0, "errmsg": "ok"})


def _too_long(sent: Sent) -> bool:
    return len(sent.text.encode()) > MAX_TEXT


class _QRCode(_WithToken):
    """Parameterised QR codes (生成带参数的二维码): a ticket, and the URL the code encodes."""

    def post(self) -> None:
        fake = self.fake
        if not self.authorised():
            return
        body = json.loads(self.request.body)
        scene = body.get("action_info", {}).get("scene", {}).get("scene_str", "")
        if body.get("action_name") != "QR_LIMIT_STR_SCENE" or not 1 <= len(scene) <= 64:
            self.write({"errcode": 40053, "errmsg": "invalid action info"})
            return
        ticket = secrets.token_urlsafe(24)
        fake.qr_scenes[ticket] = scene
        self.write({"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket}"})


class FakeWeChat:
    """A WeChat Official Account platform for one account."""

    def __init__(
        self,
        bot_url: str,
        *,
        token: str = "trialtoken2026",
        app_id: str = "wx0123456789abcdef",
        app_secret: str = "s3cr3t0123456789abcdef0123456789",
        aes_key: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.bot_url = bot_url
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.aes_key = aes_key  # set: safe mode
        self.timeout = timeout
        self.certified = True  # a certified account may send menu messages
        self.sent: list[Sent] = []
        self.refused: list[str] = []  # what the platform refused: errmsg, or the passive reply
        self.allowance: dict[str, int] = {}  # customer-service messages each person may get
        self.on_timeout: Callable[[], None] | None = None  # told when an attempt gets no answer
        self._arrived = asyncio.Event()  # set whenever a message reaches a person
        self.access_token = ""
        self.tokens_issued = 0
        self.qr_scenes: dict[str, str] = {}  # ticket -> scene
        self._ids = itertools.count(24_000_000_000_000_000)
        self._clock = itertools.count(int(time.time()))
        self._server = LocalServer()
        self.base_url = ""

    async def start(self) -> None:
        """Serve the API endpoints on a free port of 127.0.0.1."""
        self.base_url = self._server.start(
            [
                (r"/cgi-bin/token", _Token, {"fake": self}),
                (r"/cgi-bin/message/custom/send", _Custom, {"fake": self}),
                (r"/cgi-bin/qrcode/create", _QRCode, {"fake": self}),
            ]
        )

    async def stop(self) -> None:
        """Stop serving."""
        await self._server.stop()

    # -- what people do ----------------------------------------------------------------

    def message(self, openid: str, msg_type: str, **fields: str) -> dict[str, str]:
        """Return a message's fields as WeChat sends them (events carry no MsgId)."""
        base = {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": str(next(self._clock)),
            "MsgType": msg_type,
        }
        if msg_type != "event":
            base["MsgId"] = str(next(self._ids))
        return {**base, **fields}

    async def text(self, openid: str, content: str) -> Delivery:
        """The person types text."""
        return await self.post(self.message(openid, "text", Content=content))

    async def voice(self, openid: str, recognition: str | None) -> Delivery:
        """The person sends a voice message (with speech recognition when it is on)."""
        fields = {"MediaId": "media1", "Format": "amr"}
        if recognition is not None:
            fields["Recognition"] = recognition
        return await self.post(self.message(openid, "voice", **fields))

    async def subscribe(self, openid: str, scene: str = "") -> Delivery:
        """The person follows the account, by scanning a parameterised QR code when ``scene``."""
        fields = {"Event": "subscribe", "EventKey": f"qrscene_{scene}" if scene else ""}
        if scene:
            fields["Ticket"] = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2tI"
        return await self.post(self.message(openid, "event", **fields))

    async def scan(self, openid: str, scene: str) -> Delivery:
        """A follower scans a parameterised QR code."""
        return await self.post(self.message(openid, "event", Event="SCAN", EventKey=scene))

    async def click(self, openid: str, key: str) -> Delivery:
        """The person taps a menu item."""
        return await self.post(self.message(openid, "event", Event="CLICK", EventKey=key))

    async def image(self, openid: str) -> Delivery:
        """The person sends a picture."""
        fields = {"PicUrl": "http://mmbiz.qpic.cn/x", "MediaId": "media2"}
        return await self.post(self.message(openid, "image", **fields))

    # -- the protocol ----------------------------------------------------------------------

    def sign(
        self, body_fields: dict[str, str], *, token: str | None = None
    ) -> tuple[dict[str, str], str]:
        """Return the query and the body of a POST for one message (encrypted in safe mode)."""
        token = token or self.token
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        query = {
            "signature": crypto.signature(token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": body_fields["FromUserName"],
        }
        plain = _xml(body_fields)
        if self.aes_key is None:
            return query, plain
        encrypted = crypto.encrypt(self.aes_key, self.app_id, plain)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = crypto.signature(token, timestamp, nonce, encrypted)
        body = _xml({"ToUserName": body_fields["ToUserName"], "Encrypt": encrypted})
        return query, body

    async def post(self, fields: dict[str, str], **sign: Any) -> Delivery:
        """Post one message; send it again when no answer comes in time, three more times."""
        query, body = self.sign(fields, **sign)
        delivery = Delivery()
        event = fields["MsgType"] == "event"
        self.allowance[fields["FromUserName"]] = 3 if event else 5
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for _ in range(1 + RETRIES):
                delivery.attempts += 1
                try:
                    response = await client.post(self.bot_url, params=query, content=body)
                except httpx.TransportError:  # no answer in time, or none at all
                    if self.on_timeout is not None:
                        self.on_timeout()
                    continue
                delivery.statuses.append(response.status_code)
                if response.status_code == 200:
                    delivery.passive = self._read_reply(fields, response.text)
                    if delivery.passive:
                        self.deliver(Sent(fields["FromUserName"], delivery.passive, "passive"))
                return delivery
        return delivery

    def _read_reply(self, fields: dict[str, str], body: str) -> str | None:
        if body in ("", "success"):
            return None
        root = ET.fromstring(body)
        if self.aes_key is not None:
            encrypted = root.findtext("Encrypt") or ""
            expected = crypto.signature(
                self.token,
                root.findtext("TimeStamp") or "",
                root.findtext("Nonce") or "",
                encrypted,
            )
            assert root.findtext("MsgSignature") == expected, "reply's MsgSignature is wrong"
            root = ET.fromstring(crypto.decrypt(self.aes_key, self.app_id, encrypted))
        assert root.findtext("ToUserName") == fields["FromUserName"]
        assert root.findtext("FromUserName") == fields["ToUserName"]
        assert root.findtext("MsgType") == "text"
        content = root.findtext("Content") or ""
        if len(content.encode()) > MAX_TEXT:  # not shown; the platform says it failed
            self.refused.append(content)
            self.deliver(Sent(fields["FromUserName"], UNAVAILABLE, "system"))
            return None
        return content

    def read_menu(
        self, openid: str, menu: dict[str, Any]
    ) -> tuple[Sent | None, tuple[int, str] | None]:
        """Return a menu message as the person sees it, or the error the API answers."""
        if not self.certified:
            return None, (40200, "invalid account type")
        head, tail = str(menu.get("head_content", "")), str(menu.get("tail_content", ""))
        items = [(str(i.get("id", "")), str(i.get("content", ""))) for i in menu.get("list", [])]
        if (
            not 1 <= len(items) <= MENU_ITEMS
            or len(head.encode()) > MENU_HEAD
            or len(tail.encode()) > MENU_HEAD
            or any(not 1 <= len(i.encode()) <= MENU_ID for i, _ in items)
            or any(not 1 <= len(c.encode()) <= MENU_CONTENT for _, c in items)
        ):
            return None, (40035, "invalid args")
        text = "\n".join([head, *(c for _, c in items), tail])
        return Sent(openid, text, "menu", tuple(items)), None

    async def click_menu(self, openid: str, content: str, menu: Sent | None = None) -> Delivery:
        """The person taps the item showing ``content`` of a menu (by default the newest)."""
        menus = [s for s in self.sent if s.openid == openid and s.how == "menu"]
        shown = menu or (menus[-1] if menus else None)
        assert shown is not None, "no menu was sent to this person"
        ids = [i for i, c in shown.menu if c == content]
        assert ids, f"{content!r} is not an item of {shown.text!r}"
        fields = self.message(openid, "text", Content=content)
        return await self.post({**fields, "bizmsgmenuid": ids[0]})

    def deliver(self, sent: Sent) -> None:
        """Show a message to its person."""
        self.sent.append(sent)
        self._arrived.set()

    async def wait_for(self, openid: str, count: int, timeout: float = 10.0) -> list[str]:
        """Wait until the person has received ``count`` messages; return them."""
        async with asyncio.timeout(timeout):
            while len(self.texts(openid)) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.texts(openid)

    async def wait_until(
        self, done: Callable[[list[Sent]], bool], timeout: float = 10.0
    ) -> list[Sent]:
        """Wait until ``done`` holds for everything received so far; return it."""
        async with asyncio.timeout(timeout):
            while not done(self.sent):
                self._arrived.clear()
                await self._arrived.wait()
        return self.sent

    def texts(self, openid: str) -> list[str]:
        """Return everything the person received, in order."""
        return [s.text for s in self.sent if s.openid == openid]


def _xml(fields: dict[str, str]) -> str:
    """Return fields as WeChat's XML (text in CDATA, numbers bare)."""
    parts = []
    for name, value in fields.items():
        if name in ("CreateTime", "MsgId", "bizmsgmenuid"):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"

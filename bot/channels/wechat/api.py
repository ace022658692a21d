"""The Official Account API the channel calls: the access token and customer-service messages."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

log = logging.getLogger(__name__)
EXPIRED = frozenset({40001, 40014, 42001})  # invalid or expired access token
NOT_ALLOWED = frozenset({40200, 48001})  # the account may not send this kind of message
EARLY = 300  # renew the token this many seconds before WeChat says it expires


class WeChatAPIError(RuntimeError):
    """The API answered with an error code."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode


class WeChatAPI:
    """Get and cache the access token; send customer-service texts and menus."""

    def __init__(self, base_url: str, app_id: str, app_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.http.aclose()

    async def token(self, *, renew: bool = False) -> str:
        """Return a valid access token, asking the token endpoint only when needed."""
        async with self._lock:
            if renew or not self._token or time.monotonic() >= self._expires:
                response = await self.http.get(
                    f"{self.base_url}/cgi-bin/token",
                    params={
                        "grant_type": "client_credential",
                        "appid": self.app_id,
                        "secret": self.app_secret,
                    },
                )
                data = _checked(response)
                self._token = str(data["access_token"])
                lifetime = float(data.get("expires_in", 7200))
                self._expires = time.monotonic() + max(lifetime - EARLY, lifetime / 2)
            return self._token

    async def send_text(self, openid: str, text: str) -> None:
        """Send one customer-service text message."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._post("/cgi-bin/message/custom/send", body)

    async def send_menu(
        self, openid: str, head: str, items: list[dict[str, str]], tail: str
    ) -> None:
        """Send one customer-service menu message (菜单消息): items ``{"id", "content"}``."""
        menu = {"head_content": head, "list": items, "tail_content": tail}
        body = {"touser": openid, "msgtype": "msgmenu", "msgmenu": menu}
        await self._post("/cgi-bin/message/custom/send", body)

    async def qr_url(self, scene: str) -> str:
        """Return the URL a permanent parameterised QR code with ``scene`` encodes."""
        body = {
            "action_name": "QR_LIMIT_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        return str((await self._post("/cgi-bin/qrcode/create", body))["url"])

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Post JSON with the access token, renewing the token once if it expired."""
        for attempt in range(2):
            token = await self.token(renew=attempt > 0)
            response = await self.http.post(
                f"{self.base_url}{path}", params={"access_token": token}, json=body
            )
            try:
                return _checked(response)
            except WeChatAPIError as exc:
                if exc.errcode not in EXPIRED or attempt:
                    raise
                log.info("access token refused (%s); renewing it", exc.errcode)
        raise AssertionError("unreachable")


def _checked(response: httpx.Response) -> dict[str, Any]:
    """Return the JSON of an API answer, or raise for an HTTP or WeChat error."""
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise WeChatAPIError(-1, "not a JSON object")
    code = int(data.get("errcode", 0) or 0)
    if code:
        raise WeChatAPIError(code, str(data.get("errmsg", "")))
    return data

"""The network, stubbed at python-telegram-bot's request layer.

``StubRequest`` is a ``telegram.request.BaseRequest``: PTB builds every Bot API call as it
would for Telegram (parameters, JSON encoding of each value, as ``HTTPXRequest`` does), and
gets canned JSON back, which it parses as usual. Nothing leaves the process.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

BOT_ID = 123456789
TOKEN = f"{BOT_ID}:AAH-benchmark-token-not-a-real-one-0123"
DATE = 1_760_000_000
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Trial Bot", "username": "trial_bot"}


def _ok(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}).encode()


_MESSAGE = {
    "message_id": 1,
    "date": DATE,
    "chat": {"id": 1, "type": "private", "first_name": "Patient"},
    "from": BOT_USER,
    "text": "ok",
}
CANNED: dict[str, bytes] = {
    "getMe": _ok(
        {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
    ),
    "sendMessage": _ok(_MESSAGE),
    "editMessageText": _ok(_MESSAGE),
    "editMessageReplyMarkup": _ok(_MESSAGE),
}
TRUE = _ok(True)

#: Called with (endpoint, request data) for a sample of sendMessage calls.
SendHook = Callable[[str, RequestData], Awaitable[None]]


class StubRequest(BaseRequest):
    """Answers every Bot API call with canned JSON and counts the calls by method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.hook: SendHook | None = None
        self.hook_every = 0  # call the hook on every n-th sendMessage (0: never)
        self._sends = 0

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rpartition("/")[2]
        self.calls[endpoint] += 1
        if request_data is not None:
            request_data.json_parameters  # noqa: B018  the body HTTPXRequest would send
        if endpoint == "sendMessage" and self.hook is not None and self.hook_every:
            self._sends += 1
            if self._sends % self.hook_every == 0 and request_data is not None:
                await self.hook(endpoint, request_data)
        return 200, CANNED.get(endpoint, TRUE)

    def reset(self) -> None:
        """Forget the counts."""
        self.calls.clear()
        self._sends = 0

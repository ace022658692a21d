"""The HTTP server WeChat posts to, and the wiring that runs the channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.protocol import ProtocolError
from bot.config import Settings
from bot.engine.policy import N_, DataPolicy

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # WeChat's messages are small XML documents

#: Where WeChat's servers are: said in both consents and in /privacy.
TRANSIT = N_(
    "Your messages to this bot go through WeChat's servers (Tencent). They are in mainland China."
)


def wechat_policy(settings: Settings) -> DataPolicy:
    """Return the data policy in force for the WeChat channel."""
    return DataPolicy.from_settings(settings, channel="WeChat", transit=TRANSIT)


class MessageHandler(RequestHandler):
    """GET: the URL check; POST: one message, answered with its passive reply."""

    def initialize(self, channel: WeChatChannel, tasks: set[asyncio.Task[None]]) -> None:
        """Keep the channel and the set of running follow-up sends."""
        self.channel = channel
        self.tasks = tasks

    def _query(self) -> dict[str, str]:
        return {key: self.get_query_argument(key) for key in self.request.query_arguments}

    def get(self) -> None:
        """Answer the server URL check with ``echostr`` when it is signed with our token."""
        try:
            echo = self.channel.protocol.verify_url(self._query())
        except ProtocolError:
            log.warning("URL check refused: bad signature")
            self.set_status(403)
            return
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write(echo)

    async def post(self) -> None:
        """Answer one message; send the rest of the turn after the passive reply."""
        if len(self.request.body) > MAX_BODY:
            self.set_status(413)
            return
        try:
            body, turn = await self.channel.answer(self._query(), self.request.body)
        except ProtocolError as exc:
            log.warning("message refused: %s", exc)
            self.set_status(403)
            return
        self.set_header("Content-Type", "application/xml; charset=utf-8")
        await self.finish(body)
        if turn.later:
            task = asyncio.create_task(self.channel.send_later(turn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def log_request(handler: RequestHandler) -> None:
    """Log a request by method, path and status: its query holds the person's openid."""
    log.debug("%s %s %s", handler.request.method, handler.request.path, handler.get_status())


class WeChatServer:
    """Listen for the Official Account's server messages."""

    def __init__(self, channel: WeChatChannel, listen: str, port: int, path: str) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        args: dict[str, Any] = {"channel": channel, "tasks": self.tasks}
        self.app = Application([(path, MessageHandler, args)], log_function=log_request)
        self.listen, self.port = listen, port
        self.server: HTTPServer | None = None

    async def start(self) -> None:
        """Start listening."""
        self.server = HTTPServer(self.app, max_body_size=MAX_BODY * 2)
        self.server.listen(self.port, self.listen)

    async def stop(self) -> None:
        """Stop listening and let the follow-up sends finish."""
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
        for task in list(self.tasks):
            with contextlib.suppress(Exception):
                await task

"""Webhook mode: a small tornado server with the Telegram webhook and a /health endpoint.

Telegram POSTs updates to ``WEBHOOK_URL``'s path with the ``WEBHOOK_SECRET`` header. Each is
kept in the inbox and handled (turn committed, replies sent) before the POST is answered 200,
so Telegram sends again whatever a crash interrupted; a failed update is answered 500 (Telegram
retries it). An update already done (a re-sent one) is answered 200 at once. Several
processes may serve one address on one PostgreSQL database (see the README).

``GET /health`` answers 200 with a small JSON status while the bot runs (503 once it stops),
for load balancers and probes.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.web
from telegram import Update

from bot.channels.telegram.receipt import Receiver

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000


class _Webhook(tornado.web.RequestHandler):
    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        server = self.server
        if server.secret and not hmac.compare_digest(
            self.request.headers.get(SECRET_HEADER, ""), server.secret
        ):
            log.warning("webhook call with a wrong secret token refused")
            self.set_status(403)
            return
        try:
            data: Any = json.loads(self.request.body or b"{}")
            update = Update.de_json(data, server.receiver.app.bot)
        except (ValueError, TypeError, KeyError):
            log.warning("webhook call with an unreadable body refused")
            self.set_status(400)
            return
        server.received += 1
        server.last_update = time.monotonic()
        receiver = server.receiver
        if await receiver.inbox.is_done(update.update_id):
            self.set_status(200)
            return
        await receiver.inbox.receive([(update.update_id, data)])
        self.set_status(200 if await receiver.handle(update) else 500)


class _Health(tornado.web.RequestHandler):
    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    def get(self) -> None:
        server = self.server
        running = server.receiver.app.running
        self.set_status(200 if running else 503)
        self.set_header("Content-Type", "application/json")
        age = (
            None if server.last_update is None else round(time.monotonic() - server.last_update, 1)
        )
        self.finish(
            {
                "status": "ok" if running else "stopping",
                "mode": "webhook",
                "updates_received": server.received,
                "seconds_since_last_update": age,
            }
        )


class WebhookServer:
    """Serve the webhook path and /health until stopped."""

    def __init__(
        self,
        receiver: Receiver,
        url: str,
        secret: str | None,
        listen: str,
        port: int,
    ) -> None:
        self.receiver = receiver
        self.url = url
        self.secret = secret
        self.path = urlsplit(url).path or "/telegram"
        self.listen = listen
        self.port = port
        self.received = 0
        self.last_update: float | None = None
        self._http: tornado.httpserver.HTTPServer | None = None

    async def start(self) -> None:
        """Listen, then tell Telegram where to send updates."""
        routes = [(self.path, _Webhook, {"server": self}), ("/health", _Health, {"server": self})]
        web = tornado.web.Application(routes, log_function=lambda _handler: None)
        self._http = tornado.httpserver.HTTPServer(web, max_body_size=MAX_BODY)
        self._http.listen(self.port, address=self.listen)
        await self.receiver.app.bot.set_webhook(
            url=self.url,
            secret_token=self.secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=40,
        )

    async def stop(self) -> None:
        """Stop listening (the webhook stays set, so Telegram keeps updates for the next start)."""
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()

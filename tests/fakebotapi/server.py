"""A fake Telegram Bot API on 127.0.0.1 (tornado) for end-to-end tests of the real bot.

The real python-telegram-bot talks to it over HTTP: point the bot at ``fake.base_url``
(and ``fake.file_base_url``) with ``fake.token``. Tests play the users with the
``user_*`` methods, read the chats as the users see them with ``messages`` / ``last`` and
wait with ``wait_for`` / ``wait_for_text`` / ``wait_idle``. State is guarded by one lock,
so the fake can run in the test's event loop (``start``) or in a thread of its own
(``start_in_thread``) while sync code or a bot subprocess drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from .faults import Fault, Faults
from .markup import (
    CHAT_ACTIONS,
    ApiError,
    bad_request,
    check_commands,
    check_language_code,
    check_reply_markup,
    check_text,
    command_entities,
    image_size,
)
from .models import ApiCall, SentMessage, StoredFile
from .shapes import (
    MEMBER_STATUSES,
    Chat,
    file_json,
    is_inline,
    member_json,
    now,
    photo_json,
    summary,
)
from .transport import (
    ApiHandler,
    Params,
    Upload,
    flag,
    make_application,
    read_request,
)

JSONDict = dict[str, Any]
ChatType = Literal["private", "group", "supergroup"]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
# Update types Telegram leaves out unless allowed_updates asks for them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{20,}")
_LOG = logging.getLogger("fakebotapi")


@dataclass(eq=False)
class _Poll:
    handler: ApiHandler
    conflicted: bool = False


class FakeBotAPI:
    """A fake Telegram Bot API server with simulated users, rate limits and faults."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Test Bot",
        bot_username: str = "test_bot",
        seed: int = 0,
        rate_limits: bool = True,
        group_limit_per_minute: int = 20,
        max_per_second: int | None = 30,
        chat_per_second: float | None = None,
        chat_burst: int = 3,
        time_scale: float = 1.0,
    ) -> None:
        """Configure the fake; nothing listens before ``start``.

        With ``rate_limits``: at most ``max_per_second`` sends a second in all and
        ``group_limit_per_minute`` a minute to one group (on by default), and, when
        ``chat_per_second`` is set, a bucket per private chat of ``chat_burst`` sends refilled
        at ``chat_per_second`` (Telegram: "avoid sending more than one message per second"
        in one chat, "we may allow short bursts"; off by default). ``time_scale`` runs every
        limit that many times faster, for time-compressed runs (edits count against none of
        them, as the Bot FAQ's limits speak of sending messages).
        """
        self.token = token
        self.host = host
        self._port = port
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.faults = Faults(seed)
        self.rate_limits = rate_limits
        self.group_limit_per_minute = group_limit_per_minute
        self.max_per_second = max_per_second
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.time_scale = time_scale
        self.flood_errors = 0
        self.floods: dict[str, int] = {}  # 429s given, by limit: "overall", "group", "chat"
        # Called (under the lock) with each message sent and the monotonic time it was sent.
        self.on_send: Callable[[SentMessage, float], None] | None = None
        self.internal_errors: list[str] = []  # bugs of the fake itself, answered with 500
        self.calls: list[ApiCall] = []
        self.callback_answers: dict[str, JSONDict] = {}
        self.webhook_url = ""
        self.webhook_retry_delay = 0.2
        # https webhook URL -> the plain address a TLS-terminating proxy would forward it to
        # (Telegram only posts to https; the tests have no certificates)
        self.tls_terminated: dict[str, str] = {}

        self._lock = threading.RLock()
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, Chat] = {}
        self._files: dict[str, StoredFile] = {}
        self._file_count = 0
        self._outbox: list[SentMessage] = []  # one entry per send and per edit, in order
        self._mark = 0
        self._call_mark = 0
        self._updates: list[JSONDict] = []  # unconfirmed, ascending update_id
        self._next_update_id = 1000
        self._delivered: set[int] = set()
        self._dup_marked: set[int] = set()
        self._redeliver: list[JSONDict] = []
        self._allowed_updates: frozenset[str] | None = None  # None: Telegram's default
        self._queries: dict[str, bool] = {}  # callback query id -> answered
        self._query_count = 0
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._webhook_secret: str | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._group_sends: dict[int, deque[float]] = {}
        self._all_sends: deque[float] = deque()
        self._chat_buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._poll: _Poll | None = None

        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._event = asyncio.Event()
        self._closing = asyncio.Event()
        self._stopping = False
        self._webhook_task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None

        self._methods: dict[str, Callable[[Params, dict[str, Upload]], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._bot_text_setter("description", 512),
            "getMyDescription": self._bot_text_getter("description"),
            "setMyShortDescription": self._bot_text_setter("short_description", 120),
            "getMyShortDescription": self._bot_text_getter("short_description"),
            "setMyName": self._bot_text_setter("name", 64),
            "getMyName": self._bot_text_getter("name"),
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getFile": self._get_file,
        }
        self._canonical = {name.lower(): name for name in [*self._methods, "getUpdates"]}

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """Return the port (0 before the first start)."""
        return self._port

    @property
    def url(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """Return the Bot API base URL for PTB (``{base_url}{token}/{method}``)."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """Return the file base URL for PTB (``{file_base_url}{token}/{file_path}``)."""
        return f"{self.url}/file/bot"

    def env(self) -> dict[str, str]:
        """Return the environment variables that point a bot process at this fake."""
        return {
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_BASE_URL": self.base_url,
            "TELEGRAM_BASE_FILE_URL": self.file_base_url,
        }

    async def start(self) -> None:
        """Listen on the host and a free port (the same port again on a restart)."""
        if self._server is not None:
            raise RuntimeError("the fake Bot API is already running")
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._closing = asyncio.Event()
        self._stopping = False
        app = make_application(self)
        sockets = tornado.netutil.bind_sockets(self._port, self.host, family=socket.AF_INET)
        self._port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=64 * 1024 * 1024)
        self._server.add_sockets(sockets)
        _LOG.debug("fake Bot API listening on %s", self.url)

    async def stop(self) -> None:
        """Answer pending long polls, stop listening and close every connection."""
        server = self._server
        if server is None:
            return
        self._stopping = True
        self._closing.set()
        self._fire()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        server.stop()
        await asyncio.sleep(0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), 5.0)
        self._server = None
        self._loop = None

    async def __aenter__(self) -> FakeBotAPI:
        """Start in the running event loop."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop."""
        await self.stop()

    def start_in_thread(self) -> None:
        """Run the server in a background thread with its own event loop (for sync code)."""
        if self._thread is not None:
            raise RuntimeError("the fake Bot API thread is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._thread_stop = asyncio.Event()
            await self.start()
            ready.set()
            await self._thread_stop.wait()
            await self.stop()

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not ready.wait(10.0):
            raise RuntimeError("the fake Bot API thread did not start")
        if failure:
            self._thread = None
            raise failure[0]

    def stop_thread(self) -> None:
        """Stop the background thread started by ``start_in_thread``."""
        thread, loop, stop = self._thread, self._loop, self._thread_stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(10.0)
        self._thread = None
        self._thread_stop = None

    def __enter__(self) -> FakeBotAPI:
        """Start in a background thread."""
        self.start_in_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the background thread."""
        self.stop_thread()

    def _wake(self) -> None:
        """Wake long polls and the webhook sender, from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fire()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    # ----------------------------------------------------------------- serving

    async def _serve(self, handler: ApiHandler, token: str, raw_method: str) -> None:
        """Answer one API request: token, faults, then the method."""
        method = self._canonical.get(raw_method.lower(), raw_method)
        call = ApiCall(method, {}, time.time())
        polling = method == "getUpdates"
        with self._lock:
            self.calls.append(call)
            if not polling:
                self._inflight += 1
                self._touch()
        try:
            await self._serve_call(handler, token, method, call)
        finally:
            if not polling:
                with self._lock:
                    self._inflight -= 1
                    self._touch()

    async def _serve_call(
        self, handler: ApiHandler, token: str, method: str, call: ApiCall
    ) -> None:
        def fail(error: ApiError) -> None:
            call.status, call.error = error.code, error.description
            handler.answer(error.code, error.body())

        if token != self.token:
            shape_ok = _TOKEN_SHAPE.fullmatch(token) is not None
            fail(ApiError(401, "Unauthorized") if shape_ok else ApiError(404, "Not Found"))
            return
        if method not in self._canonical.values():
            fail(ApiError(404, "Not Found"))
            return
        try:
            params, uploads = read_request(handler.request)
        except ApiError as error:
            fail(error)
            return
        call.params = params
        call.files = {name: upload.filename for name, upload in uploads.items()}

        rule = self.faults.pick(method)
        if rule is not None:
            call.fault = rule.kind.value
            if rule.kind is Fault.RETRY_AFTER:
                retry = {"retry_after": rule.retry_after}
                fail(ApiError(429, f"Too Many Requests: retry after {rule.retry_after}", retry))
                return
            if rule.kind is Fault.SERVER_ERROR:
                fail(ApiError(500, "Internal Server Error"))
                return
            if rule.kind is Fault.BAD_GATEWAY:
                fail(ApiError(502, "Bad Gateway"))
                return
            if rule.executed:
                with contextlib.suppress(ApiError):
                    await self._call(handler, method, params, uploads)
            if rule.kind is Fault.TIMEOUT:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), rule.hold)
            handler.drop()
            return

        try:
            result = await self._call(handler, method, params, uploads)
        except ApiError as error:
            fail(error)
            return
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            _LOG.exception("fake Bot API failed on %s", method)
            self.internal_errors.append(f"{method}: {exc!r}")
            fail(ApiError(500, f"Internal Server Error: the fake failed: {exc!r}"))
            return
        if result is _GONE:
            handler.abandon()
            return
        call.status = 200
        handler.answer(200, {"ok": True, "result": result})

    async def _call(
        self,
        handler: ApiHandler,
        method: str,
        params: JSONDict,
        uploads: dict[str, Upload],
    ) -> Any:
        if method == "getUpdates":
            return await self._get_updates(handler, Params(params))
        with self._lock:
            return self._methods[method](Params(params), uploads)

    # ----------------------------------------------------------------- updates

    async def _get_updates(self, handler: ApiHandler, p: Params) -> Any:
        offset = p.opt_integer("offset")
        limit = min(max(p.opt_integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout", 0.0), 0.0)
        allowed = p.obj("allowed_updates")
        with self._lock:
            if self.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(map(str, allowed)) or None
            self._confirm(offset)
            poll, previous = _Poll(handler), self._poll
            self._poll = poll
        if previous is not None:
            previous.conflicted = True
            self._fire()
        deadline = time.monotonic() + timeout
        try:
            while True:
                event = self._event
                if poll.conflicted:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                if handler.closed:
                    return _GONE
                with self._lock:
                    batch = self._batch(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._stopping:
                    return batch
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._lock:
                if self._poll is poll:
                    self._poll = None

    def _allows(self, update: JSONDict) -> bool:
        kind = next((key for key in update if key != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _batch(self, limit: int) -> list[JSONDict]:
        """Return the next updates to deliver: redeliveries first, then the queue."""
        out: list[JSONDict] = []
        while self._redeliver and len(out) < limit:
            out.append(self._redeliver.pop(0))
        for update in list(self._updates):
            if len(out) >= limit:
                break
            if not self._allows(update):
                self._updates.remove(update)
                continue
            out.append(update)
            update_id = update["update_id"]
            if update_id not in self._delivered:
                self._delivered.add(update_id)
                if self.faults.duplicate():
                    self._dup_marked.add(update_id)
        return out

    def _confirm(self, offset: int | None) -> None:
        """Forget the updates an offset confirms (a negative offset keeps the last ones)."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._drop(self._updates[:offset])
        else:
            self._drop([u for u in self._updates if u["update_id"] < offset])

    def _drop(self, updates: list[JSONDict]) -> None:
        for update in updates:
            update_id = update["update_id"]
            self._updates.remove(update)
            self._delivered.discard(update_id)
            if update_id in self._dup_marked:
                self._dup_marked.discard(update_id)
                self._redeliver.append(update)

    def _enqueue(self, update: JSONDict) -> JSONDict:
        with self._lock:
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            else:
                update["update_id"] = self._next_update_id
                self._next_update_id += 1
                update = {"update_id": update.pop("update_id"), **update}
            self._updates.append(update)
            self._updates.sort(key=lambda u: int(u["update_id"]))
            self._mark = len(self._outbox)
            self._call_mark = len(self.calls)
            self._touch()
        self._wake()
        return update

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Return the updates not yet confirmed by the bot."""
        with self._lock:
            return list(self._updates)

    # ----------------------------------------------------------------- webhook

    def _set_webhook(self, p: Params, uploads: dict[str, Upload]) -> bool:
        url = p.text("url")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        if p.flag("drop_pending_updates"):
            self._drop_all()
        self.webhook_url = url
        self._webhook_secret = p.opt_text("secret_token")
        allowed = p.obj("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) or None
        if url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())
        self._fire()
        return True

    def _delete_webhook(self, p: Params, uploads: dict[str, Upload]) -> bool:
        if p.flag("drop_pending_updates"):
            self._drop_all()
        self.webhook_url = ""
        self._fire()
        return True

    def _drop_all(self) -> None:
        self._updates.clear()
        self._delivered.clear()
        self._dup_marked.clear()
        self._redeliver.clear()

    def _get_webhook_info(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url and self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _webhook_loop(self) -> None:
        """POST pending updates to the webhook one by one, retrying until it answers 2xx."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            while self.webhook_url and not self._stopping:
                event = self._event
                with self._lock:
                    url, secret = self.webhook_url, self._webhook_secret
                    batch = self._batch(1)
                    self._inflight += len(batch)  # wait_idle waits for the POST
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 1.0)
                    continue
                update = batch[0]
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                try:
                    target = self.tls_terminated.get(url, url)
                    response = await client.post(target, json=update, headers=headers)
                    error = (
                        None if response.is_success else f"Wrong response: {response.status_code}"
                    )
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {exc.__class__.__name__}"
                with self._lock:
                    self._inflight -= 1
                    self._touch()
                    if error is None:
                        self._drop([u for u in self._updates if u is update])
                        self._webhook_error = None
                    else:
                        self._webhook_error = (now(), error)
                        if update not in self._updates:
                            self._redeliver.insert(0, update)
                if error is not None:
                    await asyncio.sleep(self.webhook_retry_delay)

    # ----------------------------------------------------------------- rate limits

    def _check_rate(self, chat_id: int) -> None:
        """Raise 429 like Telegram when a chat, a group or the whole bot sends too fast."""
        if not self.rate_limits:
            return
        moment = time.monotonic()
        second, minute = 1.0 / self.time_scale, 60.0 / self.time_scale
        while self._all_sends and self._all_sends[0] <= moment - second:
            self._all_sends.popleft()
        if self.max_per_second and len(self._all_sends) >= self.max_per_second:
            raise self._flood("overall", self._all_sends[0] + second - moment)
        if chat_id < 0 and self.group_limit_per_minute:
            window = self._group_sends.setdefault(chat_id, deque())
            while window and window[0] <= moment - minute:
                window.popleft()
            if len(window) >= self.group_limit_per_minute:
                raise self._flood("group", window[0] + minute - moment)
        if chat_id > 0 and self.chat_per_second:
            tokens = self._chat_tokens(chat_id, moment)
            if tokens < 1.0:
                rate = self.chat_per_second * self.time_scale
                raise self._flood("chat", (1.0 - tokens) / rate)

    def _chat_tokens(self, chat_id: int, moment: float) -> float:
        """The sends a private chat's bucket holds now (at most ``chat_burst``)."""
        rate = (self.chat_per_second or 0.0) * self.time_scale
        tokens, at = self._chat_buckets.get(chat_id, (float(self.chat_burst), moment))
        return min(float(self.chat_burst), tokens + (moment - at) * rate)

    def _flood(self, limit: str, wait: float) -> ApiError:
        """A 429 whose ``retry_after`` (whole seconds, as Telegram gives it) covers ``wait``."""
        self.flood_errors += 1
        self.floods[limit] = self.floods.get(limit, 0) + 1
        retry_after = max(1, math.ceil(wait * self.time_scale))
        return ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    def _count_send(self, chat_id: int) -> float:
        moment = time.monotonic()
        self._all_sends.append(moment)
        if chat_id < 0:
            self._group_sends.setdefault(chat_id, deque()).append(moment)
        elif self.chat_per_second:
            self._chat_buckets[chat_id] = (self._chat_tokens(chat_id, moment) - 1.0, moment)
        return moment

    def reset_rate_limits(self) -> None:
        """Forget recent sends, so the limits start afresh."""
        with self._lock:
            self._all_sends.clear()
            self._group_sends.clear()
            self._chat_buckets.clear()

    # ----------------------------------------------------------------- JSON shapes

    def _user_json(self, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        known = self._users.get(user_id)
        return dict(known) if known else {"id": user_id, "is_bot": False, "first_name": "User"}

    def _chat_json(self, chat: Chat) -> JSONDict:
        if chat.type == "private":
            user = self._user_json(chat.id)
            out: JSONDict = {"id": chat.id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    out[key] = user[key]
            return out
        out = {"id": chat.id, "type": chat.type, "title": chat.title or f"Group {chat.id}"}
        if chat.username:
            out["username"] = chat.username
        return out

    def _message_json(self, chat: Chat, msg: SentMessage, *, nested: bool = True) -> JSONDict:
        out: JSONDict = {
            "message_id": msg.message_id,
            "from": dict(self.bot_user),
            "chat": self._chat_json(chat),
            "date": msg.date,
        }
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if msg.document or msg.photo:
            if msg.document:
                out["document"] = file_json(msg.document)
            if msg.photo:
                out["photo"] = photo_json(msg.photo)
            if msg.text:
                out["caption"] = msg.text
            if msg.entities:
                out["caption_entities"] = msg.entities
        else:
            out["text"] = msg.text
            if msg.entities:
                out["entities"] = msg.entities
        if is_inline(msg.reply_markup):
            out["reply_markup"] = msg.reply_markup
        if nested and msg.reply_to is not None:
            target = self._any_message_json(chat, msg.reply_to)
            if target is not None:
                out["reply_to_message"] = target
        return out

    def _any_message_json(self, chat: Chat, message_id: int) -> JSONDict | None:
        sent = chat.bot_messages.get(message_id)
        if sent is not None and not sent.deleted:
            return self._message_json(chat, sent, nested=False)
        if chat.has_user_message(message_id):
            said = chat.user_messages[message_id]
            return {key: value for key, value in said.items() if key != "reply_to_message"}
        return None

    # ----------------------------------------------------------------- chats and files

    def _chat_for(self, p: Params, *, sending: bool = False) -> Chat:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat: Chat | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username == raw[1:]), None)
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _new_file(
        self,
        kind: str,
        data: bytes,
        filename: str | None,
        mime_type: str | None,
        *,
        size: tuple[int, int] = (0, 0),
        url: str | None = None,
    ) -> StoredFile:
        self._file_count += 1
        n = self._file_count
        suffix = filename.rsplit(".", 1)[-1] if filename and "." in filename else ""
        if kind == "photo":
            suffix = "jpg"
        path = f"{kind}s/file_{n}" + (f".{suffix}" if suffix else "")
        stored = StoredFile(
            f"FAKE-{kind}-{n}", f"uniq{n:06d}", path, filename, mime_type, data, *size, url=url
        )
        self._files[stored.file_id] = stored
        return stored

    def _file_by_path(self, path: str) -> StoredFile | None:
        with self._lock:
            return next((f for f in self._files.values() if f.file_path == path), None)

    def _file_param(self, p: Params, uploads: dict[str, Upload], kind: str) -> StoredFile:
        value = p.get(kind)
        upload = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
        elif kind in uploads:
            upload = uploads[kind]
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            size = (0, 0)
            if kind == "photo":
                found = image_size(upload.data)
                if found is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                size = found
            return self._new_file(
                kind, upload.data, upload.filename, upload.content_type, size=size
            )
        if isinstance(value, str) and value:
            known = self._files.get(value)
            if known is not None:
                if not known.file_path.startswith(f"{kind}s/"):
                    raise bad_request(
                        f"wrong file identifier specified: can't use a file as {kind}"
                    )
                return known
            if value.startswith(("http://", "https://")):
                name = value.rsplit("/", 1)[-1] or None
                return self._new_file(kind, b"", name, None, url=value)
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    def _reply_to(self, chat: Chat, p: Params) -> int | None:
        params = p.obj("reply_parameters")
        target = p.opt_integer("reply_to_message_id")
        lenient = p.flag("allow_sending_without_reply")
        if isinstance(params, dict) and params.get("message_id") is not None:
            target = int(params["message_id"])
            lenient = lenient or flag(params.get("allow_sending_without_reply", False))
        if target is None:
            return None
        sent = chat.bot_messages.get(target)
        if (sent is not None and not sent.deleted) or chat.has_user_message(target):
            return target
        if lenient:
            return None
        raise bad_request("message to be replied not found")

    # ----------------------------------------------------------------- sending

    def _store(
        self,
        chat: Chat,
        method: str,
        *,
        text: str,
        raw_text: str,
        parse_mode: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        reply_to: int | None,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
    ) -> SentMessage:
        msg = SentMessage(
            chat_id=chat.id,
            message_id=chat.take_message_id(),
            method=method,
            date=now(),
            text=text,
            raw_text=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=markup,
            reply_to=reply_to,
            document=document,
            photo=photo,
        )
        chat.bot_messages[msg.message_id] = msg
        chat.timeline.append(("bot", msg))
        if markup is not None and "keyboard" in markup:
            chat.keyboard = markup
        elif markup is not None and markup.get("remove_keyboard"):
            chat.keyboard = None
        self._outbox.append(msg)
        moment = self._count_send(chat.id)
        if self.on_send is not None:
            self.on_send(msg, moment)
        return msg

    def _send_message(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._chat_for(p, sending=True)
        raw, parse_mode = p.text("text"), p.opt_text("parse_mode")
        text, entities = check_text(raw, parse_mode, p.obj("entities"))
        markup = check_reply_markup(p.obj("reply_markup"))
        reply_to = self._reply_to(chat, p)
        self._check_rate(chat.id)
        msg = self._store(
            chat,
            "sendMessage",
            text=text,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            markup=markup,
            reply_to=reply_to,
        )
        return self._message_json(chat, msg)

    def _send_media(self, p: Params, uploads: dict[str, Upload], kind: str) -> JSONDict:
        chat = self._chat_for(p, sending=True)
        raw, parse_mode = p.text("caption"), p.opt_text("parse_mode")
        text, entities = check_text(raw, parse_mode, p.obj("caption_entities"), caption=True)
        markup = check_reply_markup(p.obj("reply_markup"))
        reply_to = self._reply_to(chat, p)
        stored = self._file_param(p, uploads, kind)
        self._check_rate(chat.id)
        msg = self._store(
            chat,
            "sendPhoto" if kind == "photo" else "sendDocument",
            text=text,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            markup=markup,
            reply_to=reply_to,
            document=stored if kind == "document" else None,
            photo=stored if kind == "photo" else None,
        )
        return self._message_json(chat, msg)

    def _send_document(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        return self._send_media(p, uploads, "document")

    def _send_photo(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        return self._send_media(p, uploads, "photo")

    # ----------------------------------------------------------------- editing

    def _editable(self, p: Params) -> tuple[Chat, SentMessage]:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat_for(p)
        message_id = p.integer("message_id")
        msg = chat.bot_messages.get(message_id)
        if msg is None or msg.deleted:
            if message_id in chat.user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, msg

    def _edit(
        self,
        chat: Chat,
        msg: SentMessage,
        markup: JSONDict | None,
        *,
        text: tuple[str, str, str | None, list[JSONDict]] | None = None,
    ) -> JSONDict:
        """Apply an edit (text: shown, raw, parse_mode, entities) unless nothing changes."""
        if markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        current = msg.reply_markup if is_inline(msg.reply_markup) else None
        new_markup = markup if markup is not None or current is not None else msg.reply_markup
        same_text = text is None or (text[0] == msg.text and text[3] == msg.entities)
        if same_text and (markup or None) == current:
            raise bad_request(NOT_MODIFIED)
        if text is not None:
            msg.history.append(msg.text)
            msg.text, msg.raw_text, msg.parse_mode, msg.entities = text
        msg.reply_markup = new_markup
        msg.edited = True
        msg.edit_date = now()
        self._outbox.append(msg)
        return self._message_json(chat, msg)

    def _edit_message_text(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat, msg = self._editable(p)
        if msg.document or msg.photo:
            raise bad_request("there is no text in the message to edit")
        raw, parse_mode = p.text("text"), p.opt_text("parse_mode")
        text, entities = check_text(raw, parse_mode, p.obj("entities"))
        markup = check_reply_markup(p.obj("reply_markup"))
        return self._edit(chat, msg, markup, text=(text, raw, parse_mode, entities))

    def _edit_message_caption(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat, msg = self._editable(p)
        if not (msg.document or msg.photo):
            raise bad_request("there is no caption in the message to edit")
        raw, parse_mode = p.text("caption"), p.opt_text("parse_mode")
        text, entities = check_text(raw, parse_mode, p.obj("caption_entities"), caption=True)
        markup = check_reply_markup(p.obj("reply_markup"))
        return self._edit(chat, msg, markup, text=(text, raw, parse_mode, entities))

    def _edit_message_media(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        """Bot API: edit a document or photo message, or add media to a text message;
        ``media`` is an InputMedia whose file is a file_id, a URL or ``attach://<name>``
        (a part of the same multipart request). The media's caption replaces the old one."""
        chat, msg = self._editable(p)
        media = p.obj("media")
        if not isinstance(media, dict) or not media.get("media"):
            raise bad_request("can't parse InputMedia: media is not specified")
        kind = media.get("type")
        if kind not in ("document", "photo"):
            raise bad_request(f"can't parse InputMedia: unsupported media type {kind!r}")
        stored = self._file_param(Params({kind: media["media"]}), uploads, str(kind))
        raw, parse_mode = str(media.get("caption") or ""), media.get("parse_mode")
        text, entities = check_text(raw, parse_mode, media.get("caption_entities"), caption=True)
        markup = check_reply_markup(p.obj("reply_markup"))
        if markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        current = msg.document if kind == "document" else msg.photo
        same_file = current is not None and current.file_id == stored.file_id
        same_caption = (text, entities) == (msg.text, msg.entities)
        if same_file and same_caption and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.document = stored if kind == "document" else None
        msg.photo = stored if kind == "photo" else None
        msg.text, msg.raw_text, msg.parse_mode, msg.entities = text, raw, parse_mode, entities
        msg.reply_markup = markup
        msg.edited = True
        msg.edit_date = now()
        self._outbox.append(msg)
        return self._message_json(chat, msg)

    def _edit_message_reply_markup(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat, msg = self._editable(p)
        return self._edit(chat, msg, check_reply_markup(p.obj("reply_markup")))

    def _delete_message(self, p: Params, uploads: dict[str, Upload]) -> bool:
        chat = self._chat_for(p)
        message_id = p.integer("message_id")
        sent = chat.bot_messages.get(message_id)
        if sent is not None and not sent.deleted:
            sent.deleted = True
            return True
        if message_id in chat.user_messages and message_id not in chat.deleted_user_messages:
            chat.deleted_user_messages.add(message_id)
            return True
        raise bad_request("message to delete not found")

    # ----------------------------------------------------------------- other methods

    def _true(self, p: Params, uploads: dict[str, Upload]) -> bool:
        return True

    def _get_me(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _answer_callback_query(self, p: Params, uploads: dict[str, Upload]) -> bool:
        query_id = p.text("callback_query_id")
        if self._queries.get(query_id, True):
            raise bad_request(QUERY_INVALID)
        if len(p.text("text")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._queries[query_id] = True
        self.callback_answers[query_id] = {
            "text": p.opt_text("text"),
            "show_alert": p.flag("show_alert"),
            "url": p.opt_text("url"),
            "cache_time": p.opt_integer("cache_time"),
        }
        return True

    def _send_chat_action(self, p: Params, uploads: dict[str, Upload]) -> bool:
        self._chat_for(p, sending=True)
        if p.text("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _command_key(self, p: Params) -> tuple[str, str]:
        scope = p.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), check_language_code(p.get("language_code"))

    def _set_my_commands(self, p: Params, uploads: dict[str, Upload]) -> bool:
        key = self._command_key(p)
        commands = check_commands(p.obj("commands"))
        if commands:
            self._commands[key] = [dict(c) for c in commands]
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, p: Params, uploads: dict[str, Upload]) -> list[JSONDict]:
        return list(self._commands.get(self._command_key(p), []))

    def _delete_my_commands(self, p: Params, uploads: dict[str, Upload]) -> bool:
        self._commands.pop(self._command_key(p), None)
        return True

    def _bot_text_setter(
        self, name: str, limit: int
    ) -> Callable[[Params, dict[str, Upload]], bool]:
        def setter(p: Params, uploads: dict[str, Upload]) -> bool:
            key = (name, check_language_code(p.get("language_code")))
            value = p.text(name)
            if len(value) > limit:
                raise bad_request(f"{name.upper()}_INVALID: the {name} is too long")
            if value:
                self._bot_texts[key] = value
            else:
                self._bot_texts.pop(key, None)
            return True

        return setter

    def _bot_text_getter(self, name: str) -> Callable[[Params, dict[str, Upload]], JSONDict]:
        def getter(p: Params, uploads: dict[str, Upload]) -> JSONDict:
            key = (name, check_language_code(p.get("language_code")))
            fallback = self.bot_user["first_name"] if name == "name" else ""
            return {name: self._bot_texts.get(key, self._bot_texts.get((name, ""), fallback))}

        return getter

    def _get_chat(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._chat_for(p)
        return {
            **self._chat_json(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._chat_for(p)
        user_id = p.integer("user_id")
        if chat.type == "private":
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
        elif user_id == self.bot_id:
            status = chat.members.get(user_id, "administrator")
        else:
            status = chat.members.get(user_id, "left")
        return member_json(status, self._user_json(user_id))

    def _get_file(self, p: Params, uploads: dict[str, Upload]) -> JSONDict:
        stored = self._files.get(p.text("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        return {**file_json(stored), "file_path": stored.file_path}

    # ----------------------------------------------------------------- users and groups

    def add_user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSONDict:
        """Register or update a user's profile (defaults: first name "Test", language "en")."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        with self._lock:
            user = dict(
                self._users.get(user_id)
                or {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"}
            )
            changes = {
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
            }
            user.update({key: value for key, value in changes.items() if value is not None})
            self._users[user_id] = user
            return dict(user)

    def add_group(
        self,
        chat_id: int,
        title: str | None = None,
        *,
        chat_type: ChatType | None = None,
        username: str | None = None,
        members: Iterable[int] = (),
    ) -> None:
        """Register a group (negative id; -100xxxxxxxxxx is a supergroup); add ``members``."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = chat_type or ("supergroup" if chat_id <= -1_000_000_000_000 else "group")
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = Chat(chat_id, kind)
            chat.type = kind
            chat.title = title or chat.title or f"Group {chat_id}"
            chat.username = username or chat.username
            for member in members:
                chat.members[member] = "member"

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Set a user's status in a group (creator, administrator, member, restricted, ...)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self._lock:
            if chat_id not in self._chats:
                self.add_group(chat_id)
            self._chats[chat_id].members[user_id] = status

    def members(self, chat_id: int) -> dict[int, str]:
        """Return a group's member statuses by user id."""
        with self._lock:
            return dict(self._chats[chat_id].members)

    def _origin(
        self,
        user_id: int,
        first_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_type: ChatType,
        chat_id: int | None,
    ) -> tuple[JSONDict, Chat]:
        user = self.add_user(user_id, first_name, username=username, language_code=language_code)
        if chat_type == "private":
            if chat_id not in (None, user_id):
                raise ValueError("a private chat's id is the user's id")
            chat = self._chats.get(user_id)
            if chat is None:
                chat = self._chats[user_id] = Chat(user_id, "private")
            return user, chat
        if chat_id is None:
            raise ValueError(f"a {chat_type} message needs chat_id")
        self.add_group(chat_id, chat_type=chat_type)
        chat = self._chats[chat_id]
        chat.members.setdefault(user_id, "member")
        return user, chat

    def _user_message(
        self, user: JSONDict, chat: Chat, content: JSONDict, reply_to: int | None = None
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": user,
            "chat": self._chat_json(chat),
            "date": now(),
            **content,
        }
        if reply_to is not None:
            target = self._any_message_json(chat, reply_to)
            if target is None:
                raise LookupError(f"no message {reply_to} in chat {chat.id}")
            message["reply_to_message"] = target
        chat.user_messages[message["message_id"]] = message
        chat.timeline.append(("user", message))
        if chat.keyboard is not None and chat.keyboard.get("one_time_keyboard"):
            chat.keyboard = None
        return message

    def _user_update(
        self,
        user_id: int,
        content: JSONDict,
        *,
        first_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_type: ChatType,
        chat_id: int | None,
        reply_to: int | None = None,
    ) -> JSONDict:
        with self._lock:
            user, chat = self._origin(
                user_id, first_name, username, language_code, chat_type, chat_id
            )
            message = self._user_message(user, chat, content, reply_to)
            return self._enqueue({"message": message})

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        """Queue a text message from a user (bot_command entities added as Telegram does)."""
        content: JSONDict = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_update(
            user_id,
            content,
            first_name=first_name,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
            reply_to=reply_to,
        )

    def user_command(
        self,
        user_id: int,
        command: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a command such as ``/start payload`` (with its bot_command entity)."""
        if not command_entities(command) or not command.startswith("/"):
            raise ValueError(f"not a bot command: {command!r}")
        return self.user_sends(
            user_id,
            command,
            first_name=first_name,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_taps(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
        strict: bool = True,
    ) -> JSONDict:
        """Queue a callback_query for a button of a bot message (strict: the button must exist)."""
        with self._lock:
            user, chat = self._origin(
                user_id, first_name, username, language_code, chat_type, chat_id
            )
            msg = chat.bot_messages.get(message_id)
            if msg is None or msg.deleted:
                raise LookupError(f"no bot message {message_id} in chat {chat.id}")
            offered = [b.get("callback_data") for b in msg.buttons]
            if strict and callback_data not in offered:
                raise LookupError(
                    f"message {message_id} has no button with callback_data {callback_data!r}; "
                    f"it offers {offered} (strict=False to tap anyway)"
                )
            self._query_count += 1
            query_id = str(4_000_000_000_000_000_000 + self._query_count)
            self._queries[query_id] = False
            chat.timeline.append(("tap", (user, message_id, callback_data)))
            query = {
                "id": query_id,
                "from": user,
                "message": self._message_json(chat, msg),
                "chat_instance": str(abs(chat.id) * 7 + 1_000_003),
                "data": callback_data,
            }
            return self._enqueue({"callback_query": query})

    def user_taps_label(
        self,
        user_id: int,
        message_id: int,
        label: str,
        *,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a tap on the inline button labelled exactly ``label``."""
        with self._lock:
            chat = self._chats[user_id if chat_type == "private" else int(chat_id or 0)]
            data = chat.bot_messages[message_id].callback_data(label)
        return self.user_taps(user_id, message_id, data, chat_type=chat_type, chat_id=chat_id)

    def user_shares_contact(
        self,
        user_id: int,
        phone: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        contact_user_id: int | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a shared contact; by default the user's own (as a request_contact button sends)."""
        with self._lock:
            profile = self._users.get(user_id, {})
        contact: JSONDict = {
            "phone_number": phone,
            "first_name": first_name or profile.get("first_name", "Test"),
            "user_id": user_id if contact_user_id is None else contact_user_id,
        }
        if last_name:
            contact["last_name"] = last_name
        return self._user_update(
            user_id,
            {"contact": contact},
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def _user_file(
        self, kind: str, data: bytes, filename: str | None, mime_type: str | None
    ) -> StoredFile:
        with self._lock:
            size = (image_size(data) or (0, 0)) if kind == "photo" else (0, 0)
            return self._new_file(kind, data, filename, mime_type, size=size)

    def user_sends_sticker(
        self,
        user_id: int,
        emoji: str = "👍",
        *,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a sticker."""
        stored = self._user_file("sticker", b"RIFF\x00\x00\x00\x00WEBP", "sticker.webp", None)
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_update(
            user_id,
            {"sticker": sticker},
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_sends_photo(
        self,
        user_id: int,
        data: bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10",
        *,
        caption: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a photo (its bytes downloadable through getFile)."""
        stored = self._user_file("photo", data, None, "image/jpeg")
        content: JSONDict = {"photo": photo_json(stored)}
        if caption:
            content["caption"] = caption
        return self._user_update(
            user_id,
            content,
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_sends_voice(
        self,
        user_id: int,
        duration: int = 2,
        data: bytes = b"OggS\x00fake voice",
        *,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a voice message."""
        stored = self._user_file("voice", data, None, "audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._user_update(
            user_id,
            {"voice": voice},
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_sends_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a location."""
        return self._user_update(
            user_id,
            {"location": {"latitude": latitude, "longitude": longitude}},
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_sends_document(
        self,
        user_id: int,
        data: bytes = b"hello\n",
        filename: str = "file.txt",
        mime_type: str = "text/plain",
        *,
        caption: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a document (its bytes downloadable through getFile)."""
        stored = self._user_file("document", data, filename, mime_type)
        content: JSONDict = {"document": file_json(stored)}
        if caption:
            content["caption"] = caption
        return self._user_update(
            user_id,
            content,
            first_name=None,
            username=username,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_edits(
        self,
        user_id: int,
        message_id: int,
        new_text: str,
        *,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue an edited_message for a text message the user sent."""
        with self._lock:
            chat = self._chats.get(user_id if chat_type == "private" else int(chat_id or 0))
            original = None if chat is None else chat.user_messages.get(message_id)
            if chat is None or original is None or original["from"]["id"] != user_id:
                raise LookupError(f"user {user_id} sent no message {message_id} there")
            if "text" not in original:
                raise ValueError("only text messages can be edited this way")
            edited = {**original, "text": new_text, "edit_date": now()}
            edited.pop("entities", None)
            entities = command_entities(new_text)
            if entities:
                edited["entities"] = entities
            chat.user_messages[message_id] = edited
            chat.timeline.append(("user", edited))
            return self._enqueue({"edited_message": edited})

    def user_blocks_bot(self, user_id: int) -> JSONDict:
        """Block the bot: later sends get 403; queue the my_chat_member update Telegram sends."""
        return self._block(user_id, blocked=True)

    def user_unblocks_bot(self, user_id: int) -> JSONDict:
        """Unblock the bot and queue the my_chat_member update."""
        return self._block(user_id, blocked=False)

    def _block(self, user_id: int, *, blocked: bool) -> JSONDict:
        with self._lock:
            user, chat = self._origin(user_id, None, None, None, "private", None)
            chat.blocked = blocked
            bot = dict(self.bot_user)
            kicked = {"status": "kicked", "user": bot, "until_date": 0}
            member = {"status": "member", "user": bot}
            change = {
                "chat": self._chat_json(chat),
                "from": user,
                "date": now(),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            }
            return self._enqueue({"my_chat_member": change})

    def queue_raw(self, update: JSONDict) -> JSONDict:
        """Queue any update dict (an update_id is added when missing)."""
        return self._enqueue(update)

    # ----------------------------------------------------------------- reading chats

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[SentMessage]:
        """Return the bot's messages in a chat, oldest first, in their current state."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                return []
            found = sorted(chat.bot_messages.values(), key=lambda m: m.message_id)
            return [m for m in found if include_deleted or not m.deleted]

    def last(self, chat_id: int) -> SentMessage:
        """Return the bot's latest visible message in a chat."""
        found = self.messages(chat_id)
        if not found:
            raise LookupError(f"the bot sent nothing visible to chat {chat_id}")
        return found[-1]

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        """Return one bot message by id."""
        with self._lock:
            return self._chats[chat_id].bot_messages[message_id]

    def keyboard(self, chat_id: int) -> JSONDict | None:
        """Return the reply keyboard the user currently sees in a chat, if any."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return None if chat is None else chat.keyboard

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Return the commands set for a scope (default scope) and language code."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        with self._lock:
            return list(self._commands.get((key, language_code), []))

    def file(self, file_id: str) -> StoredFile:
        """Return a stored file by id."""
        with self._lock:
            return self._files[file_id]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Return the calls to one method, oldest first."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def transcript(self, chat_id: int) -> str:
        """Return a chat as readable lines, user and bot, for failure messages."""
        lines: list[str] = []
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                return ""
            for kind, item in chat.timeline:
                if kind == "bot":
                    lines.append(f"bot  {item}")
                elif kind == "tap":
                    _user, message_id, data = item
                    lines.append(f"user taps {data!r} on #{message_id}")
                else:
                    deleted = item["message_id"] in chat.deleted_user_messages
                    lines.append(f"user #{item['message_id']}: {summary(item, deleted)}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- waiting

    def mark(self) -> int:
        """Make later waits look only at messages sent from now on; return the position."""
        with self._lock:
            self._mark = len(self._outbox)
            self._call_mark = len(self.calls)
            return self._mark

    def _match(self, predicate: Callable[[SentMessage], bool], since: int) -> SentMessage | None:
        with self._lock:
            recent = self._outbox[since:]
        return next((m for m in recent if not m.deleted and predicate(m)), None)

    def _describe(self, since: int) -> str:
        with self._lock:
            recent = self._outbox[since:]
        seen = "\n".join(f"  chat {m.chat_id} {m}" for m in recent) or "  (nothing)"
        return f"bot messages since the last user action:\n{seen}"

    def _idle(self, quiet: float) -> bool | None:
        with self._lock:
            undelivered = any(u["update_id"] not in self._delivered for u in self._updates)
            redeliveries = bool(self._redeliver) or bool(self._dup_marked)
            busy = self._inflight > 0 or redeliveries or undelivered
            quiet_for = time.monotonic() - self._last_activity
        return True if not busy and quiet_for >= quiet else None

    def _idle_state(self) -> str:
        with self._lock:
            undelivered = [
                u["update_id"] for u in self._updates if u["update_id"] not in self._delivered
            ]
            return (
                f"not idle: {self._inflight} calls in flight, undelivered updates {undelivered}, "
                f"{len(self._redeliver) + len(self._dup_marked)} duplicate deliveries pending"
            )

    async def _until(
        self, probe: Callable[[], T | None], timeout: float, why: Callable[[], str]
    ) -> T:
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"waited {timeout} s; {why()}")
            await asyncio.sleep(0.01)

    def _until_sync(
        self, probe: Callable[[], T | None], timeout: float, why: Callable[[], str]
    ) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._loop:
            raise RuntimeError("the fake runs in this event loop: use the async waits")
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"waited {timeout} s; {why()}")
            time.sleep(0.01)

    def _text_probe(self, chat_id: int, substring: str) -> Callable[[SentMessage], bool]:
        return lambda m: m.chat_id == chat_id and substring in m.text

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> SentMessage:
        """Return the first message sent or edited since the last user action that matches."""
        start = self._mark if since is None else since
        return await self._until(
            lambda: self._match(predicate, start), timeout, lambda: self._describe(start)
        )

    async def wait_for_text(
        self, chat_id: int, substring: str, timeout: float = 5.0, *, since: int | None = None
    ) -> SentMessage:
        """Return the first new message in a chat whose shown text contains ``substring``."""
        return await self.wait_for(self._text_probe(chat_id, substring), timeout, since=since)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until all updates (and duplicates) are delivered and calls paused ``quiet`` s."""
        await self._until(lambda: self._idle(quiet), timeout, self._idle_state)

    async def wait_for_call(
        self, method: str, timeout: float = 5.0, *, since: int | None = None
    ) -> ApiCall:
        """Return the first answered call to ``method`` since the last user action."""
        start = self._call_mark if since is None else since
        return await self._until(
            lambda: self._find_call(method, start), timeout, lambda: f"no {method} call"
        )

    def _find_call(self, method: str, since: int) -> ApiCall | None:
        with self._lock:
            recent = self.calls[since:]
        return next((c for c in recent if c.method == method and c.status), None)

    def wait_for_sync(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> SentMessage:
        """Block until ``wait_for`` would return (fake running in its own thread)."""
        start = self._mark if since is None else since
        return self._until_sync(
            lambda: self._match(predicate, start), timeout, lambda: self._describe(start)
        )

    def wait_for_text_sync(
        self, chat_id: int, substring: str, timeout: float = 5.0, *, since: int | None = None
    ) -> SentMessage:
        """Block until ``wait_for_text`` would return (fake running in its own thread)."""
        return self.wait_for_sync(self._text_probe(chat_id, substring), timeout, since=since)

    def wait_idle_sync(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Block until ``wait_idle`` would return (fake running in its own thread)."""
        self._until_sync(lambda: self._idle(quiet), timeout, self._idle_state)

    def __repr__(self) -> str:
        """Return where the fake listens."""
        return f"<FakeBotAPI {self.url} token={self.token!r}>"


class _Gone:
    """The client left before the answer: send nothing."""


_GONE = _Gone()

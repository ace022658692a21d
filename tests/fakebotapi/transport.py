"""HTTP plumbing of the fake: tornado handlers and decoding of Bot API parameters."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tornado.iostream
import tornado.web
from tornado.httputil import HTTPServerRequest

from .markup import bad_request

if TYPE_CHECKING:
    from .server import FakeBotAPI

JSONDict = dict[str, Any]
NOT_FOUND: JSONDict = {"ok": False, "error_code": 404, "description": "Not Found"}

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "media",
        "permissions",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "user_id",
        "from_chat_id",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
        "until_date",
    }
)
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "revoke_messages",
    }
)


@dataclass
class Upload:
    """One uploaded multipart file."""

    filename: str | None
    content_type: str | None
    data: bytes


def flag(value: object) -> bool:
    """Read a boolean sent as JSON or as a form string."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def decode(name: str, value: Any) -> Any:
    """Turn one form value (always a string from PTB) into what Telegram would read."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
        return value
    if name == "timeout":
        try:
            return float(value)
        except ValueError:
            raise bad_request("invalid timeout specified") from None
    if name in BOOL_FIELDS:
        return flag(value)
    return value


class Params:
    """Typed access to one request's parameters, failing like Telegram."""

    def __init__(self, data: JSONDict) -> None:
        self.data = data

    def get(self, name: str) -> Any:
        """Return a raw value or None."""
        return self.data.get(name)

    def integer(self, name: str) -> int:
        """Return a required integer."""
        value = self.data.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"invalid {name} specified")
        return value

    def opt_integer(self, name: str) -> int | None:
        """Return an optional integer."""
        return None if self.data.get(name) in (None, "") else self.integer(name)

    def number(self, name: str, default: float) -> float:
        """Return an optional number."""
        value = self.data.get(name)
        return default if value in (None, "") else float(value)

    def text(self, name: str, default: str = "") -> str:
        """Return an optional string."""
        value = self.data.get(name)
        return default if value is None else str(value)

    def opt_text(self, name: str) -> str | None:
        """Return an optional string or None."""
        value = self.data.get(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool:
        """Return an optional boolean."""
        return flag(self.data.get(name, False))

    def obj(self, name: str) -> Any:
        """Return a decoded JSON value or None."""
        return self.data.get(name)


class ApiHandler(tornado.web.RequestHandler):
    """Answer ``/bot<token>/<method>``."""

    def initialize(self, fake: FakeBotAPI) -> None:
        """Keep the fake."""
        self.fake = fake
        self.closed = False

    def compute_etag(self) -> None:
        """Never answer 304."""
        return None

    def on_connection_close(self) -> None:
        """Note that the client went away (a cancelled long poll, a killed bot)."""
        self.closed = True
        self.fake._wake()

    async def get(self, token: str, method: str) -> None:
        """Serve a GET call."""
        await self.fake._serve(self, token, method)

    async def post(self, token: str, method: str) -> None:
        """Serve a POST call."""
        await self.fake._serve(self, token, method)

    def abandon(self) -> None:
        """Send nothing: the client is gone."""
        self._finished = True

    def answer(self, status: int, body: JSONDict) -> None:
        """Send a JSON answer unless the client is gone."""
        if self.closed or self._finished:
            self._finished = True
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            self.finish(json.dumps(body, ensure_ascii=False))

    def drop(self) -> None:
        """Close the connection without an answer."""
        if self._finished:
            return
        try:
            stream = self.detach()
        except (AttributeError, tornado.iostream.StreamClosedError):
            self._finished = True
            return
        stream.close()


class FileHandler(tornado.web.RequestHandler):
    """Serve ``/file/bot<token>/<file_path>``."""

    def initialize(self, fake: FakeBotAPI) -> None:
        """Keep the fake."""
        self.fake = fake

    def compute_etag(self) -> None:
        """Never answer 304."""
        return None

    def get(self, token: str, path: str) -> None:
        """Send the file's bytes."""
        stored = self.fake._file_by_path(path) if token == self.fake.token else None
        if stored is None:
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(NOT_FOUND))
            return
        self.set_header("Content-Type", stored.mime_type or "application/octet-stream")
        self.finish(stored.data)


class NotFoundHandler(tornado.web.RequestHandler):
    """Answer any other path like Telegram does."""

    def initialize(self, fake: FakeBotAPI) -> None:
        """Keep the fake (unused)."""
        self.fake = fake

    def prepare(self) -> None:
        """Answer 404 for every verb."""
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(NOT_FOUND))


def no_log(handler: tornado.web.RequestHandler) -> None:
    """Skip tornado's access log (every call is in ``FakeBotAPI.calls``)."""


def make_application(fake: FakeBotAPI) -> tornado.web.Application:
    """Return the tornado application serving ``fake``."""
    args = {"fake": fake}
    return tornado.web.Application(
        [
            (r"/bot([^/]*)/([^/]*)", ApiHandler, args),
            (r"/file/bot([^/]*)/(.+)", FileHandler, args),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=args,
        log_function=no_log,
    )


def read_request(request: HTTPServerRequest) -> tuple[JSONDict, dict[str, Upload]]:
    """Return the decoded parameters and uploaded files of a request."""
    raw: JSONDict = {
        k: v[-1].decode("utf-8", "replace") for k, v in request.query_arguments.items()
    }
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise bad_request("can't parse JSON encoded request parameters") from None
        if not isinstance(body, dict):
            raise bad_request("JSON object expected")
        raw.update(body)
    else:
        for name, values in request.body_arguments.items():
            raw[name] = values[-1].decode("utf-8", "replace")
    uploads = {
        name: Upload(parts[-1].filename or None, parts[-1].content_type or None, parts[-1].body)
        for name, parts in request.files.items()
    }
    return {name: decode(name, value) for name, value in raw.items()}, uploads

"""Telegram's checks on what a bot sends: HTML entities, text lengths, keyboards, commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# Tag name -> MessageEntity type.
_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z][A-Za-z0-9-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """Return the JSON body Telegram answers with."""
        out: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad_request(reason: str) -> ApiError:
    """Return a 400 error with Telegram's ``Bad Request: `` prefix."""
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as entity offsets count."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    name: str
    offset: int
    attrs: dict[str, str]
    extra: JSONDict = field(default_factory=dict)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity_error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Return the plain text and entities of HTML ``text``; raise ApiError like Telegram."""
    out: list[str] = []
    pos = 0  # UTF-16 offset in the plain text
    stack: list[_Open] = []
    entities: list[JSONDict] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            match = _TAG.match(text, i)
            if match is None:
                raise _entity_error(f'unescaped "<" at byte offset {_byte_offset(text, i)}')
            closing, name = match.group(1) == "/", match.group(2).lower()
            if not closing:
                stack.append(_open_tag(name, match.group(3), pos, _byte_offset(text, i)))
            else:
                if match.group(3).strip():
                    raise _entity_error(
                        f"end tag with attributes at byte offset {_byte_offset(text, i)}"
                    )
                if not stack:
                    raise _entity_error(
                        f'Unexpected end tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                top = stack.pop()
                if top.name != name:
                    raise _entity_error(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{top.name}>", found "</{name}>"'
                    )
                entity = _close_tag(top, pos, stack)
                if entity is not None:
                    entities.append(entity)
            i = match.end()
            continue
        if ch == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                raise _entity_error(
                    f'unescaped "&" at byte offset {_byte_offset(text, i)}: use &amp;'
                )
            named, dec, hexa = match.groups()
            code = ord(_NAMED[named]) if named else int(dec) if dec else int(hexa, 16)
            if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise _entity_error(f"invalid character entity at byte offset {i}")
            decoded = chr(code)
            out.append(decoded)
            pos += utf16_len(decoded)
            i = match.end()
            continue
        out.append(ch)
        pos += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _open_tag(name: str, raw_attrs: str, pos: int, byte_offset: int) -> _Open:
    if name not in _TAGS:
        raise _entity_error(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
    attrs: dict[str, str] = {}
    for attr in _ATTR.finditer(raw_attrs):
        value = attr.group(2) or ""
        if value[:1] in "\"'":
            value = value[1:-1]
        attrs[attr.group(1).lower()] = _unescape_attr(value)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _entity_error(f'Unsupported start tag "span" at byte offset {byte_offset}')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise _entity_error(f"Custom emoji identifier expected at byte offset {byte_offset}")
    return _Open(name, pos, attrs)


def _unescape_attr(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        named, dec, hexa = match.groups()
        return _NAMED[named] if named else chr(int(dec) if dec else int(hexa, 16))

    return _ENTITY.sub(repl, value)


def _close_tag(top: _Open, pos: int, stack: list[_Open]) -> JSONDict | None:
    kind = _TAGS[top.name]
    if top.name == "code" and stack and stack[-1].name == "pre":
        language = top.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].extra["language"] = language.removeprefix("language-")
            return None
    length = pos - top.offset
    if length <= 0:
        return None
    entity: JSONDict = {"type": kind, "offset": top.offset, "length": length}
    if kind == "text_link":
        url = top.attrs.get("href", "")
        if not url:
            return None
        entity["url"] = url
    elif kind == "pre":
        pre_language = top.extra.get("language") or top.attrs.get("language")
        if pre_language:
            entity["language"] = pre_language
    elif kind == "blockquote" and "expandable" in top.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = top.attrs["emoji-id"]
    return entity


def _strip(plain: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, shifting and clipping the entities."""
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    total = utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def check_text(
    text: str,
    parse_mode: str | None,
    entities: list[JSONDict] | None,
    *,
    caption: bool = False,
) -> tuple[str, list[JSONDict]]:
    """Return the text as the user sees it and its entities; raise ApiError like Telegram."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, found = parse_html(text)
    elif mode in ("", "markdown", "markdownv2"):
        plain, found = text, list(entities or [])
    else:
        raise bad_request("unsupported parse_mode")
    plain, found = _strip(plain, found)
    if not plain and not caption:
        raise bad_request("message text is empty")
    limit = MAX_CAPTION if caption else MAX_TEXT
    if utf16_len(plain) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return plain, found


def command_entities(text: str) -> list[JSONDict]:
    """Return the bot_command entities Telegram adds to a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group(0)),
        }
        for m in _COMMAND.finditer(text)
    ]


def check_reply_markup(markup: object) -> JSONDict | None:
    """Validate a reply_markup object; return it, or raise ApiError like Telegram."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        for button in _rows(markup["inline_keyboard"], "inline keyboard"):
            _check_inline_button(button)
    elif "keyboard" in markup:
        for button in _rows(markup["keyboard"], "keyboard"):
            label = button if isinstance(button, str) else (button or {}).get("text")
            if not isinstance(label, str) or not label:
                raise bad_request("keyboard button text is empty")
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _rows(rows: object, what: str) -> list[Any]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{what}" of the reply markup must be an Array of Arrays')
    return [button for row in rows for button in row]


_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_inline_button(button: object) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    if not button["text"]:
        raise bad_request("text of the inline keyboard button is empty")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if len(actions) != 1:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")


def check_commands(commands: object) -> list[JSONDict]:
    """Validate a setMyCommands list; return it, or raise ApiError like Telegram."""
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name, text = command.get("command"), command.get("description")
        if not isinstance(name, str) or not _BOT_COMMAND.fullmatch(name.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(text, str) or not 1 <= len(text) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return commands


def check_language_code(code: object) -> str:
    """Return a validated two-letter ISO 639-1 code or ''; raise ApiError like Telegram."""
    if code is None or code == "":
        return ""
    if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code):
        raise bad_request("LANG_CODE_INVALID: a two-letter ISO 639-1 language code is expected")
    return code


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) of PNG, GIF, JPEG or WebP bytes (0, 0 if unknown), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 0, 0
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, size = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[i + 5 : i + 7], "big")
                return int.from_bytes(data[i + 7 : i + 9], "big"), height
            i += 2 + size
        return 0, 0
    return None

"""The fake Bot API behaves like Telegram for the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakebotapi import ApiError, FakeBotAPI, Fault, parse_html

# PTB warns when it builds RetryAfter unless PTB_TIMEDELTA is set; not the fake's concern.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

USER = 42
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x20\x00\x00\x00\x10rest"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """Run a fake Bot API in the test's event loop."""
    async with FakeBotAPI(seed=7) as api:
        yield api


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """Return a real PTB Bot pointed at the fake."""
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.file_base_url) as b:
        yield b


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    """Return a one-row inline keyboard of (label, callback_data) buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in pairs]])


async def raw_call(fake: FakeBotAPI, method: str, token: str | None = None, **params: Any) -> Any:
    """POST one JSON call and return (status, body)."""
    url = f"{fake.base_url}{token or fake.token}/{method}"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=params)
    return response.status_code, response.json()


# ----------------------------------------------------------------------------- PTB Bot


async def test_bot_methods_round_trip(fake: FakeBotAPI, bot: Bot) -> None:
    """Call the methods the bot uses and read the chat as the user sees it."""
    fake.user_sends(USER, "hi", first_name="Ann", language_code="ru")
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "test_bot")

    sent = await bot.send_message(
        USER, "<b>Question</b> 1 &lt; 2?", parse_mode="HTML", reply_markup=keyboard(("Yes", "y"))
    )
    assert sent.text == "Question 1 < 2?"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 8
    assert sent.reply_markup == keyboard(("Yes", "y"))
    assert sent.chat.first_name == "Ann"

    edited = await bot.edit_message_text(
        "Answered", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("Undo", "u"))
    )
    assert edited.text == "Answered" and edited.edit_date is not None
    shown = fake.last(USER)
    assert (shown.text, shown.edited, shown.history) == ("Answered", True, ["Question 1 < 2?"])
    assert shown.labels == ["Undo"] and shown.callback_data("Undo") == "u"

    tap = fake.user_taps(USER, sent.message_id, "u")
    updates = await bot.get_updates(timeout=1)
    query = updates[-1].callback_query
    assert query is not None and query.data == "u" and query.message is not None
    assert query.message.text == "Answered"
    assert await query.answer("done")
    assert fake.callback_answers[tap["callback_query"]["id"]]["text"] == "done"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")

    commands = [BotCommand("start", "Начать"), BotCommand("help", "Помощь")]
    assert await bot.set_my_commands(commands, language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert [c["command"] for c in fake.commands(language_code="ru")] == ["start", "help"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands(commands, language_code="zh-hans")

    doc = await bot.send_document(USER, b"a,b\n1,2\n", filename="answers.csv", caption="Export")
    assert doc.document is not None and doc.document.file_name == "answers.csv"
    stored = fake.last(USER)
    assert stored.document is not None and stored.document.data == b"a,b\n1,2\n"
    assert stored.caption == "Export"
    file = await bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"

    photo = await bot.send_photo(USER, PNG, caption="chart")
    assert photo.photo[-1].width == 32 and fake.last(USER).photo is not None
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, b"not an image")

    assert await bot.send_chat_action(USER, "typing")
    assert await bot.delete_message(USER, photo.message_id)
    assert fake.last(USER).document is not None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, photo.message_id)
    assert [c.method for c in fake.calls].count("sendMessage") == 1


async def test_edit_rules_match_telegram(fake: FakeBotAPI, bot: Bot) -> None:
    """Not-modified edits fail, and an edit without reply_markup drops the keyboard."""
    fake.user_sends(USER, "hi")
    sent = await bot.send_message(USER, "Pick", reply_markup=keyboard(("A", "a")))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Pick", USER, sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    await bot.edit_message_text("Picked", USER, sent.message_id)
    assert fake.last(USER).reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 999)
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard(("B", "b")))
    assert fake.last(USER).labels == ["B"]


async def test_edit_message_media_replaces_a_file(fake: FakeBotAPI, bot: Bot) -> None:
    """editMessageMedia puts a new upload (attach://) and caption in the same message."""
    fake.user_sends(USER, "hi")
    doc = await bot.send_document(USER, b"a\n1\n", filename="old.csv", caption="Old")
    new = InputMediaDocument(b"a\n2\n", filename="new.csv", caption="New")
    edited = await bot.edit_message_media(new, USER, doc.message_id)
    assert isinstance(edited, Message) and edited.document is not None
    assert edited.document.file_name == "new.csv" and edited.caption == "New"
    stored = fake.message(USER, doc.message_id)
    assert stored.document is not None and stored.document.data == b"a\n2\n"
    assert stored.edited and stored.history == ["Old"]
    same = InputMediaDocument(edited.document.file_id, caption="New")  # the file it shows
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_media(same, USER, doc.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_media(new, USER, 999)
    for media in ({"type": "document"}, {"type": "sticker", "media": "attach://f"}):
        status, body = await raw_call(
            fake, "editMessageMedia", chat_id=USER, message_id=doc.message_id, media=media
        )
        assert status == 400 and "can't parse InputMedia" in body["description"]


async def test_validation_errors(fake: FakeBotAPI, bot: Bot) -> None:
    """Unknown chats, long or empty text, bad HTML and long callback_data are 400s."""
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "nobody here")
    fake.user_sends(USER, "hi")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "x" * 4097)
    await bot.send_message(USER, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "fish & chips", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "x", reply_markup=keyboard(("Long", "d" * 65)))
    assert len(fake.messages(USER)) == 1


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>bold</b> <i>it</i> <u>u</u> <s>s</s> <code>c</code>", "bold it u s c"),
        ('<a href="https://x.org/?a=1&amp;b=2">link</a>', "link"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("<blockquote expandable>q</blockquote> &quot;&#39;&#x41;&gt;", "q \"'A>"),
        ("a > b", "a > b"),
    ],
)
def test_html_accepted(html: str, plain: str) -> None:
    """Telegram's HTML subset parses to plain text and entities."""
    assert parse_html(html)[0] == plain


@pytest.mark.parametrize(
    "html",
    [
        "<b>x",
        "x</b>",
        "<b><i>x</b></i>",
        "<br>",
        "<div>x</div>",
        "1 < 2",
        "a & b",
        "&nbsp;",
        '<span class="x">y</span>',
    ],
)
def test_html_rejected(html: str) -> None:
    """Unbalanced or unknown tags and unescaped < or & cannot be parsed."""
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_html(html)


def test_html_entities_offsets() -> None:
    """Entity offsets count UTF-16 code units, like Telegram's."""
    plain, entities = parse_html('😀 <b>hi</b> <a href="tg://user?id=1">you</a>')
    assert plain == "😀 hi you"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "text_link", "offset": 6, "length": 3, "url": "tg://user?id=1"},
    ]


async def test_wrong_token_is_invalid_token(fake: FakeBotAPI) -> None:
    """A wrong token gets 401 and PTB raises InvalidToken; unknown methods get 404."""
    with pytest.raises(InvalidToken):
        async with Bot("654321:WRONG-TOKEN-abcdefghijklmnopqrst", base_url=fake.base_url):
            pass
    assert await raw_call(fake, "getMe", token="654321:WRONG-TOKEN-abcdefghijklmnopqrst") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert await raw_call(fake, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    status, body = await raw_call(fake, "getme")
    assert status == 200 and body["result"]["username"] == "test_bot"


async def test_json_bodies_and_reply_keyboards(fake: FakeBotAPI) -> None:
    """JSON bodies work as well as forms; reply keyboards are kept as the chat's keyboard."""
    fake.user_sends(USER, "hi")
    markup = ReplyKeyboardMarkup([[KeyboardButton("Share", request_contact=True)]])
    status, body = await raw_call(
        fake, "sendMessage", chat_id=USER, text="Your phone?", reply_markup=markup.to_dict()
    )
    assert status == 200 and "reply_markup" not in body["result"]
    assert fake.keyboard(USER) == markup.to_dict()
    assert fake.calls[-1].params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    fake.user_shares_contact(USER, "+15551234567")
    assert fake.pending_updates[-1]["message"]["contact"]["user_id"] == USER


async def test_every_simulated_update_parses_in_ptb(fake: FakeBotAPI, bot: Bot) -> None:
    """Each user_* helper queues an update PTB reads as the right kind of message."""
    said = fake.user_sends(USER, "first", username="ann")
    fake.user_edits(USER, said["message"]["message_id"], "first, edited")
    fake.user_shares_contact(USER, "+15551234567")
    fake.user_sends_sticker(USER, "🎉")
    fake.user_sends_photo(USER, PNG, caption="scan")
    fake.user_sends_voice(USER, duration=3)
    fake.user_sends_location(USER, 31.2, 121.5)
    fake.user_sends_document(USER, b"%PDF-1.4", "report.pdf", "application/pdf")
    fake.user_sends(USER, "in the group", chat_type="supergroup", chat_id=-1001234567890)
    fake.user_blocks_bot(USER)
    fake.queue_raw({"message": {**said["message"], "text": "raw", "message_id": 99}})
    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)
    first, edit, contact, sticker, photo, voice, location, document, group, block, raw = updates
    assert first.message is not None and first.message.from_user is not None
    assert first.message.from_user.username == "ann"
    assert edit.edited_message is not None and edit.edited_message.text == "first, edited"
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.user_id == USER
    assert sticker.message is not None and sticker.message.sticker is not None
    assert photo.message is not None and photo.message.caption == "scan"
    assert voice.message is not None and voice.message.voice is not None
    assert location.message is not None and location.message.location is not None
    assert document.message is not None and document.message.document is not None
    assert group.message is not None and group.message.chat.type == "supergroup"
    assert block.my_chat_member is not None
    assert block.my_chat_member.new_chat_member.status == "kicked"
    assert raw.message is not None and raw.message.text == "raw"
    pdf = await (await bot.get_file(document.message.document.file_id)).download_as_bytearray()
    assert bytes(pdf) == b"%PDF-1.4"


# ----------------------------------------------------------------------------- polling


async def test_application_polling_echo(fake: FakeBotAPI) -> None:
    """A real Application polls the fake, handles a command, a message and a tap."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"welcome {context.args}", reply_markup=keyboard(("Go", "go"))
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(
            f"echo: {update.effective_message.text}", do_quote=True
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"tapped {query.data}")

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(tapped))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.user_command(USER, "/start ref42")
        welcome = await fake.wait_for_text(USER, "welcome ['ref42']")
        fake.user_sends(USER, "hello there")
        echoed = await fake.wait_for_text(USER, "echo: hello there")
        assert echoed.reply_to is not None
        fake.user_taps_label(USER, welcome.message_id, "Go")
        await fake.wait_for_text(USER, "tapped go")
        await fake.wait_idle(quiet=0.1)
        assert fake.calls_to("answerCallbackQuery")[-1].status == 200
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert fake.pending_updates == []  # the updater confirmed everything on stop
    assert fake.internal_errors == []
    assert "user taps 'go'" in fake.transcript(USER)


async def test_long_poll_waits_for_an_update(fake: FakeBotAPI, bot: Bot) -> None:
    """getUpdates holds until an update arrives, and an offset confirms what came before."""
    asyncio.get_running_loop().call_later(0.2, fake.user_sends, USER, "late")
    started = asyncio.get_running_loop().time()
    updates = await bot.get_updates(timeout=3)
    assert 0.15 < asyncio.get_running_loop().time() - started < 2.0
    assert [u.message.text for u in updates if u.message] == ["late"]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_second_poller_conflicts(fake: FakeBotAPI, bot: Bot) -> None:
    """A second bot instance polling terminates the first one's getUpdates with 409."""
    first = asyncio.create_task(bot.get_updates(timeout=30))
    deadline = asyncio.get_running_loop().time() + 10
    while fake._poll is None:  # until the first long poll is held
        assert asyncio.get_running_loop().time() < deadline, "the first getUpdates never arrived"
        await asyncio.sleep(0.01)
    async with Bot(fake.token, base_url=fake.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=0.2))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await first
        assert await second == ()


# ----------------------------------------------------------------------------- limits and faults


async def test_group_flood_raises_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    """More than 20 messages a minute to one group get 429 with retry_after."""
    fake.user_sends(USER, "hi")
    fake.user_sends(USER, "hi group", chat_type="group", chat_id=-1001)
    for n in range(20):
        await bot.send_message(-1001, f"msg {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(-1001, "one too many")
    assert 1 <= int(caught.value.retry_after) <= 60
    assert fake.flood_errors == 1
    await bot.send_message(USER, "private chats are not limited this way")
    fake.rate_limits = False
    await bot.send_message(-1001, "limits off")


async def test_global_limit_per_second(fake: FakeBotAPI, bot: Bot) -> None:
    """More than max_per_second sends in one second get 429."""
    fake.max_per_second = 3
    fake.user_sends(USER, "hi")
    for _ in range(3):
        await bot.send_message(USER, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "x")


async def test_private_chat_limit_allows_a_short_burst(fake: FakeBotAPI, bot: Bot) -> None:
    """With the per-chat limit on, a private chat takes a burst, then one send a second."""
    fake.chat_per_second, fake.chat_burst = 1.0, 3
    fake.user_sends(USER, "hi")
    fake.user_sends(USER + 1, "hi")
    for _ in range(3):
        await bot.send_message(USER, "x")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "a fourth at once")
    assert int(caught.value.retry_after) == 1
    assert fake.floods == {"chat": 1}
    await bot.send_message(USER + 1, "another chat has its own bucket")
    msg = fake.last(USER)
    await bot.edit_message_text("edits are not counted", chat_id=USER, message_id=msg.message_id)


async def test_time_scale_runs_the_limits_faster(fake: FakeBotAPI, bot: Bot) -> None:
    """time_scale=20: a private chat's bucket refills twenty times faster."""
    fake.chat_per_second, fake.chat_burst, fake.time_scale = 1.0, 1, 20.0
    fake.user_sends(USER, "hi")
    await bot.send_message(USER, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "too soon")
    moment = time.monotonic()
    assert fake._chat_tokens(USER, moment + 0.06) >= 1.0  # 1/20 s refills one send
    fake.time_scale = 1.0
    assert fake._chat_tokens(USER, moment + 0.06) < 1.0  # unscaled, it takes a second
    assert fake.floods["chat"] >= 1


async def test_faults_follow_the_seeded_fraction(fake: FakeBotAPI) -> None:
    """A 30 % fault hits about 30 % of calls, the same ones for the same seed."""

    async def pattern(api: FakeBotAPI, calls: int = 100) -> list[int]:
        async with httpx.AsyncClient() as client:
            url = f"{api.base_url}{api.token}/getMe"
            return [(await client.post(url)).status_code for _ in range(calls)]

    fake.faults.add(Fault.SERVER_ERROR, 0.3, methods={"getMe"})
    statuses = await pattern(fake)
    assert statuses.count(500) == fake.faults.injected["server_error"]
    assert 15 <= statuses.count(500) <= 45
    fake.faults.reset(seed=7)
    fake.faults.add(Fault.SERVER_ERROR, 0.3, methods={"getMe"})
    assert await pattern(fake) == statuses
    fake.faults.enabled = False
    assert set(await pattern(fake, 20)) == {200}


async def test_each_fault_kind_reaches_ptb(fake: FakeBotAPI) -> None:
    """429, 500, 502, dropped connections and timeouts surface as PTB's errors."""
    fake.user_sends(USER, "hi")
    request = HTTPXRequest(read_timeout=0.3)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as bot:
        for kind, error in [
            (Fault.RETRY_AFTER, RetryAfter),
            (Fault.SERVER_ERROR, NetworkError),
            (Fault.BAD_GATEWAY, NetworkError),
            (Fault.DROP, NetworkError),
        ]:
            rule = fake.faults.add(kind, 1.0, methods="sendMessage", limit=1)
            with pytest.raises(error):
                await bot.send_message(USER, str(kind))
            assert rule.count == 1
        fake.faults.add(Fault.TIMEOUT, 1.0, methods="sendMessage", hold=0.6, limit=1, executed=True)
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "lost answer")
        assert fake.last(USER).text == "lost answer"  # carried out, only the answer was lost
        assert (await bot.send_message(USER, "fine")).text == "fine"
    assert fake.faults.total == 5
    assert [m.text for m in fake.messages(USER)] == ["lost answer", "fine"]


async def test_duplicate_delivery_resends_a_confirmed_update(fake: FakeBotAPI, bot: Bot) -> None:
    """A duplicated update comes again in a later batch after it was confirmed."""
    fake.faults.add(Fault.DUPLICATE, 1.0, limit=1)
    first = fake.user_sends(USER, "once")
    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == [first["update_id"]]
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert [u.update_id for u in again] == [first["update_id"]]
    second = fake.user_sends(USER, "twice?")
    later = await bot.get_updates(offset=again[-1].update_id + 1, timeout=1)
    assert [u.update_id for u in later] == [second["update_id"]]
    assert fake.faults.injected["duplicate"] == 1


async def test_an_update_comes_again_until_an_offset_confirms_it(
    fake: FakeBotAPI, bot: Bot
) -> None:
    """Like Telegram: getUpdates without a later offset delivers the same update again."""
    first = fake.user_sends(USER, "are you there?")
    for _ in range(3):
        updates = await bot.get_updates(timeout=0)
        assert [u.update_id for u in updates] == [first["update_id"]]
    assert [u["update_id"] for u in fake.pending_updates] == [first["update_id"]]
    assert await bot.get_updates(offset=first["update_id"] + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_webhook_retries_while_the_bot_answers_an_error(fake: FakeBotAPI, bot: Bot) -> None:
    """Like Telegram: a webhook POST answered with a non-2xx status is sent again."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    statuses = [500, 503, 200]
    received: list[int] = []

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            received.append(json.loads(self.request.body)["update_id"])
            self.set_status(statuses[len(received) - 1])

    fake.webhook_retry_delay = 0.01
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
    server.add_sockets(sockets)
    try:
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
        assert await bot.set_webhook(url)
        update = fake.user_sends(USER, "again and again")
        await fake.wait_idle(quiet=0.1, timeout=10)
        assert received == [update["update_id"]] * 3
        assert fake.pending_updates == []
        assert await bot.delete_webhook()
    finally:
        server.stop()


async def test_webhook_delivery(fake: FakeBotAPI, bot: Bot) -> None:
    """With a webhook set, updates are POSTed with the secret token; getUpdates conflicts."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    received: list[tuple[str | None, dict[str, Any]]] = []

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            secret = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            received.append((secret, json.loads(self.request.body)))

    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
    server.add_sockets(sockets)
    try:
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret")
        update = fake.user_sends(USER, "via webhook")
        await fake.wait_idle(quiet=0.05)
        assert received == [("s3cret", update)]
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Conflict):
            await bot.get_updates()
        assert await bot.delete_webhook()
    finally:
        server.stop()


# ----------------------------------------------------------------------------- groups, threads


async def test_group_members_and_get_chat(fake: FakeBotAPI, bot: Bot) -> None:
    """getChatMember reads the configured members; getChat returns full chat info."""
    fake.add_group(-1002, "Study team", members=[7])
    fake.set_member(-1002, 8, "administrator")
    assert (await bot.get_chat_member(-1002, 7)).status == "member"
    assert (await bot.get_chat_member(-1002, 8)).status == "administrator"
    assert (await bot.get_chat_member(-1002, 9)).status == "left"
    fake.set_member(-1002, 9, "restricted")
    assert (await bot.get_chat_member(-1002, 9)).status == "restricted"
    chat = await bot.get_chat(-1002)
    assert (chat.title, chat.type) == ("Study team", "group")
    fake.user_blocks_bot(USER)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(USER, "hello?")


def test_thread_mode_from_sync_code() -> None:
    """In its own thread the fake serves sync clients (as a bot subprocess would)."""
    with FakeBotAPI() as fake:
        fake.user_sends(USER, "hi")
        url = f"{fake.base_url}{fake.token}"
        with httpx.Client() as client:
            updates = client.post(f"{url}/getUpdates", data={"timeout": "1"}).json()["result"]
            assert updates[0]["message"]["text"] == "hi"
            fake.user_sends(USER, "ping")
            client.post(f"{url}/sendMessage", data={"chat_id": str(USER), "text": "pong"})
            assert fake.wait_for_text_sync(USER, "pong", timeout=2).text == "pong"
            with pytest.raises(TimeoutError, match="undelivered updates"):
                fake.wait_idle_sync(quiet=0.05, timeout=0.2)  # nobody fetched "ping"
            client.post(f"{url}/getUpdates", data={"offset": str(updates[0]["update_id"] + 1)})
            fake.wait_idle_sync(quiet=0.05, timeout=2)


ECHO_BOT = textwrap.dedent(
    """
    import os
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    async def echo(update, context):
        await update.effective_message.reply_text("echo: " + update.effective_message.text)

    app = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0, timeout=1)
    """
)


def test_bot_process_killed_and_restarted() -> None:
    """A bot process killed with SIGKILL and started again carries on with the same fake."""
    with FakeBotAPI() as fake:
        env = {**os.environ, **fake.env()}

        def start_bot() -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, "-c", ECHO_BOT], env=env)

        bot = start_bot()
        try:
            fake.user_sends(USER, "one")
            fake.wait_for_text_sync(USER, "echo: one", timeout=8)
            bot.kill()
            bot.wait(5)
            fake.user_sends(USER, "two")  # arrives while no bot runs
            bot = start_bot()
            fake.wait_for_text_sync(USER, "echo: two", timeout=8)
        finally:
            bot.kill()
            bot.wait(5)
        assert "echo: one" in [m.text for m in fake.messages(USER)]

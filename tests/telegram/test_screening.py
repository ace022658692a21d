"""Whole screenings over Telegram, restarts, stale buttons, groups, stickers and erasure."""

from __future__ import annotations

from bot.config import Settings
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import TEAM_CHAT, Person, RunningBot


async def screen(person: Person, answers: dict[str, str], until: str | None = None) -> None:
    """Answer questions in flow order from ``answers`` (the bot skips what it does not ask)."""
    from bot.engine.engine import load_engine

    engine = load_engine()
    conv = engine.new(person.lang)
    order = [q.id for q in engine.flow.questions]
    for qid in order:
        if qid == until:
            return
        asked = engine.flow.question(qid)
        view = engine.flow.view(conv.answers)
        if asked.when is not None and asked.when(view) is False:
            continue
        await person.answer(answers[qid])
        from bot.engine.record import Answer

        conv.answers[qid] = Answer(answers[qid])


async def test_a_whole_screening_in_english(bot: RunningBot, fake: FakeBotAPI) -> None:
    person = Person(fake, 1001, "en")
    replies = await person.command("/start")
    assert "not a diagnosis" in replies[0].text
    assert "Do you agree?" in replies[-1].text
    replies = await person.tap("agree")
    assert "Has a doctor told you" in replies[-1].text
    await screen(person, ELIGIBLE_EN)
    assert any("may be a good fit" in m.text for m in fake.messages(person.user_id)[-2:])
    first = fake.messages(person.user_id)[2]
    assert first.edited and "→ Yes" in first.text  # the tapped question shows the answer
    assert first.reply_markup in (None, {}, {"inline_keyboard": []})


async def test_a_whole_screening_in_chinese(bot: RunningBot, fake: FakeBotAPI) -> None:
    person = Person(fake, 1002, "zh-CN")
    replies = await person.command("/start")
    assert "您好" in replies[0].text
    await person.tap("agree")
    zh = {
        **ELIGIBLE_EN,
        "age": "45岁",
        "height": "1米65",
        "weight": "120斤",
        "hemoglobin": "130g/L",
    }
    await screen(person, zh)
    assert any("适合" in m.text for m in fake.messages(person.user_id)[-2:])


async def test_restart_in_the_middle_loses_nothing(
    bot: RunningBot, fake: FakeBotAPI, settings: Settings
) -> None:
    person = Person(fake, 1003, "en")
    await person.command("/start")
    await person.tap("agree")
    await screen(person, ELIGIBLE_EN, until="hba1c")
    await bot.stop()
    await bot.start()
    replies = await person.say("8.5%")
    assert "C-peptide" in replies[-1].text
    store = await Store.open(settings)
    try:
        history = await store.answer_history("tg:1003")
    finally:
        await store.close()
    facts = [a.fact for a in history]
    assert facts[:3] == ["diabetes_diagnosed", "age", "sex"] and "hba1c" in facts
    assert len(facts) == len(set(facts))


async def test_a_stale_button_gets_a_note_and_the_current_question(
    bot: RunningBot, fake: FakeBotAPI
) -> None:
    person = Person(fake, 1004, "en")
    await person.command("/start")
    await person.tap("agree")
    first_question = fake.messages(person.user_id)[-1]
    await person.tap("yes")
    await person.say("45")
    replies = await person.tap_data(first_question.message_id, "a|diabetes_diagnosed|no")
    assert "earlier message" in replies[0].text or any("earlier message" in r.text for r in replies)
    assert "female or male" in fake.last(person.user_id).text


async def test_forged_callback_data_is_refused(bot: RunningBot, fake: FakeBotAPI) -> None:
    person = Person(fake, 1005, "en")
    await person.command("/start")
    await person.tap("agree")
    question = fake.messages(person.user_id)[-1]
    replies = await person.tap_data(question.message_id, "a|diabetes_diagnosed|'; DROP TABLE x;--")
    assert any("earlier message" in r.text for r in replies)
    replies = await person.tap_data(question.message_id, "not-ours")
    assert any("earlier message" in r.text for r in replies)


async def test_a_group_chat_gets_one_private_notice(bot: RunningBot, fake: FakeBotAPI) -> None:
    group = -100555
    fake.mark()
    fake.user_sends(2001, "hello bot", chat_type="group", chat_id=group)
    await bot.settled()
    fake.user_sends(2002, "/start", chat_type="group", chat_id=group)
    await bot.settled()
    sent = fake.messages(group)
    assert len(sent) == 1
    assert "private" in sent[0].text and "?start=" in sent[0].text


async def test_the_team_chat_gets_no_notice(bot: RunningBot, fake: FakeBotAPI) -> None:
    fake.user_sends(2003, "hello", chat_type="supergroup", chat_id=TEAM_CHAT)
    await bot.settled()
    assert fake.messages(TEAM_CHAT) == []


async def test_a_sticker_gets_a_polite_reply_and_the_question(
    bot: RunningBot, fake: FakeBotAPI
) -> None:
    person = Person(fake, 1006, "en")
    await person.command("/start")
    await person.tap("agree")
    await person.tap("yes")
    before = {m.message_id for m in fake.messages(person.user_id)}
    fake.user_sends_sticker(person.user_id)
    await bot.settled()
    new = [m for m in fake.messages(person.user_id) if m.message_id not in before]
    assert "only read typed text" in new[0].text
    assert "How old are you" in new[-1].text


async def test_delete_erases_everything_after_confirming(
    bot: RunningBot, fake: FakeBotAPI, settings: Settings
) -> None:
    person = Person(fake, 1007, "en")
    await person.command("/start")
    await person.tap("agree")
    await screen(person, ELIGIBLE_EN, until="hba1c")
    replies = await person.command("/delete")
    assert "cannot be undone" in replies[-1].text
    replies = await person.tap("erase")
    assert any("erased" in r.text for r in replies)
    store = await Store.open(settings)
    try:
        assert await store.answer_history("tg:1007") == []
        assert await store.find_chat("tg:1007") is None
    finally:
        await store.close()


async def test_deep_link_sets_source_and_language(
    bot: RunningBot, fake: FakeBotAPI, settings: Settings
) -> None:
    person = Person(fake, 1008, "en")
    replies = await person.command("/start flyer-hk__zh-Hant")
    assert "您好" in replies[0].text and "研究" in replies[0].text
    store = await Store.open(settings)
    try:
        async with store.turn("tg:1008") as turn:
            assert turn.record is not None
            assert turn.record["source"] == "flyer-hk" and turn.record["lang"] == "zh-Hant"
    finally:
        await store.close()


async def test_command_menus_are_registered_per_language(bot: RunningBot, fake: FakeBotAPI) -> None:
    from tests.team.conftest import until

    # The menus are set beside the first getUpdates (not before it): wait for all of them.
    answered = lambda: [c for c in fake.calls_to("setMyCommands") if c.status]  # noqa: E731
    await until(lambda: len(answered()) >= 6, 10, "six setMyCommands calls")
    english = [c["command"] for c in fake.commands()]
    assert english == ["start", "language", "back", "restart", "help", "faq", "privacy", "delete"]
    chinese = fake.commands(language_code="zh")
    assert chinese and chinese[0]["description"] != fake.commands()[0]["description"]
    assert fake.commands(language_code="ar")


async def test_language_command_switches_the_language(bot: RunningBot, fake: FakeBotAPI) -> None:
    person = Person(fake, 1009, "en")
    await person.command("/start")
    await person.tap("agree")
    await person.command("/language")
    replies = await person.tap("ru")
    assert (
        any("Русск" in r.text or "русском" in r.text for r in replies) or "Врач" in replies[-1].text
    )


async def test_a_flood_of_messages_gets_one_polite_note(
    settings: Settings, fake: FakeBotAPI
) -> None:
    from bot.storage.commands import upgrade

    settings = settings.model_copy(update={"flood_burst": 15})
    await upgrade(settings)
    bot = RunningBot(settings, fake)
    await bot.start()
    person = Person(fake, 1010, "en")
    await person.command("/start")
    await person.tap("agree")
    fake.mark()
    for _ in range(40):
        fake.user_sends(person.user_id, "hello", language_code="en")
    await bot.settled(20)
    notes = [m for m in fake.messages(person.user_id) if "very fast" in m.text]
    assert len(notes) == 1
    # After the note the current question is shown again (nothing to scroll up for).
    note = notes[0].message_id
    await fake.wait_for(
        lambda m: m.chat_id == person.user_id and m.message_id > note and bool(m.reply_markup),
        timeout=30,
        since=0,
    )
    replies_to_hello = [m for m in fake.messages(person.user_id) if "did not understand" in m.text]
    assert len(replies_to_hello) < 40
    await bot.stop()


async def test_quick_taps_are_slowed_down_never_dropped(
    settings: Settings, fake: FakeBotAPI
) -> None:
    from bot.storage.commands import upgrade

    settings = settings.model_copy(update={"flood_burst": 3, "flood_rate": 4.0})
    await upgrade(settings)
    bot = RunningBot(settings, fake)
    await bot.start()
    person = Person(fake, 1011, "en")
    await person.command("/start")
    await person.tap("agree")
    questions = list(ELIGIBLE_EN)[:12]
    for question in questions:  # as fast as the replies come: beyond the burst of 3
        await person.answer(ELIGIBLE_EN[question])
    await bot.stop()
    assert not [m for m in fake.messages(person.user_id) if "very fast" in m.text]
    store = await Store.open(settings)
    try:
        history = await store.answer_history("tg:1011")
    finally:
        await store.close()
    assert [a.fact for a in history] == questions

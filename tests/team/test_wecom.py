"""The WeCom group robot as a team destination, against the fake robot over real HTTP.

The fake's "minute" is ``WINDOW`` seconds and the bot's pacing for WeCom comes from the same
setting (``WECOM_WINDOW_SECONDS``), so the limit of 20 messages per minute is enforced and
kept without a test waiting a real minute. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.startup import StartupRefused, check
from bot.storage import Store, commands
from bot.team.cards import TeamTexts
from bot.team.delivery import configured_reminders, serve_delivery, wecom_destination
from bot.team.outbox import OutboxWorker, SendError, WorkerOptions, remind
from bot.team.pacing import Pacer
from bot.team.reminders import WECOM_REMINDER
from bot.team.wecom import MAX_BYTES, WECOM_CARD, WeComRobot, WeComTexts, fit
from tests.fakewecom import FakeWeCom
from tests.storage.conftest import (  # noqa: F401  (fixtures: SQLite and PostgreSQL)
    backend,
    db_url,
    key,
    pg_server,
    pg_session_db,
    sqlite_template,
)
from tests.team.conftest import ROBOT_WINDOW, until
from tests.team.helpers import make_referral

WINDOW = ROBOT_WINDOW
CONSOLE = "https://console.example.org"
REF = re.compile(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}")
FAST = WorkerOptions(poll_interval=0.05, backoff_base=0.05, backoff_cap=0.5, digest_gather=0.3)


class Ticks:
    """A settable monotonic clock for the fake robot."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wecom_settings(db: str, key: str, fake: FakeWeCom, **extra: Any) -> Settings:  # noqa: F811
    values: dict[str, Any] = {
        "database_url": db,
        "data_encryption_key": key,
        "wecom_robot_key": fake.key,
        "wecom_base_url": fake.base_url,
        "wecom_window_seconds": WINDOW,
        "web_base_url": CONSOLE,
        **extra,
    }
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_url: str, key: str, robot_api: FakeWeCom) -> Settings:  # noqa: F811
    return wecom_settings(db_url, key, robot_api)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


class Delivery:
    """``serve_delivery`` in a background task, as ``python -m bot run`` runs it."""

    def __init__(self, settings: Settings, *, telegram: bool = False) -> None:
        self.settings = settings
        self.telegram = telegram
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop = asyncio.Event()
        run = serve_delivery(
            self.settings, self._stop, telegram=self.telegram, options=FAST, reminder_every=0.1
        )
        self._task = asyncio.create_task(run)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._stop.set()
            await asyncio.wait_for(self._task, 15)


@pytest.fixture
async def delivery(settings: Settings) -> AsyncIterator[Delivery]:
    running = Delivery(settings)
    running.start()
    try:
        yield running
    finally:
        await running.stop()


async def wecom_referral(store: Store, user_id: int, **kwargs: Any) -> str:
    """A referral with its WeCom card queued (the patient side queues it in the same turn)."""
    ref = await make_referral(store, user_id, card=False, **kwargs)
    await store.enqueue(WECOM_CARD, f"wecom:{ref}", {"ref": ref})
    return ref


def delivered(fake: FakeWeCom) -> Counter[str]:
    """Reference codes the robot posted: once per message that names them."""
    seen: Counter[str] = Counter()
    for posted in fake.posted():
        seen.update(set(REF.findall(posted.content)))
    return seen


# -- the fake robot, from the documentation ------------------------------------------------


async def test_the_fake_robot_answers_as_wecom_documents(robot_api: FakeWeCom) -> None:
    ticks = Ticks()
    robot_api.clock = ticks
    url = f"{robot_api.base_url}/cgi-bin/webhook/send"

    def markdown(content: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async with httpx.AsyncClient() as http:

        async def post(key: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await http.post(url, params={"key": key}, json=body)
            assert response.status_code == 200  # WeCom answers errors in the body
            answer: dict[str, Any] = response.json()
            return answer

        assert await post(robot_api.key, markdown("**hello**")) == {"errcode": 0, "errmsg": "ok"}
        assert (await post("not-a-key", markdown("x")))["errcode"] == 93000
        too_long = await post(robot_api.key, markdown("字" * 1366))  # 4,098 bytes
        assert too_long["errcode"] == 40058 and "4096" in too_long["errmsg"]
        assert (await post(robot_api.key, markdown("a" * 4096)))["errcode"] == 0
        assert (await post(robot_api.key, {"msgtype": "markdown"}))["errcode"] == 40008
        for _ in range(18):
            assert (await post(robot_api.key, markdown("x")))["errcode"] == 0
        limited = await post(robot_api.key, markdown("the 21st"))
        assert limited["errcode"] == 45009 and "freq" in limited["errmsg"]
        ticks.now += WINDOW  # the minute has passed
        assert (await post(robot_api.key, markdown("again")))["errcode"] == 0
    assert len(robot_api.posted()) == 21


# -- the robot client ----------------------------------------------------------------------


async def test_refusals_become_send_errors_the_outbox_retries(robot_api: FakeWeCom) -> None:
    pacer = Pacer(18, WINDOW)
    robot = WeComRobot(robot_api.base_url, robot_api.key, pacer, window=WINDOW)
    wrong = WeComRobot(robot_api.base_url, "0ec2-wrong", Pacer(18, WINDOW), window=WINDOW)
    try:
        await robot.send_markdown("**ok**")
        with pytest.raises(SendError) as refused:
            await wrong.send_markdown("x")
        assert refused.value.permanent and "93000" in refused.value.reason
        assert "0ec2-wrong" not in refused.value.reason  # the key is a secret
        robot_api.fail_next(502)
        with pytest.raises(SendError) as busy:
            await robot.send_markdown("x")
        assert not busy.value.permanent and busy.value.retry_after is None
        await robot.send_markdown("字" * 3000)  # too long: cut to fit, not refused
        assert len(robot_api.posted()[-1].content.encode()) <= MAX_BYTES
        robot_api.clock = lambda: 0.0  # every earlier post is in the fake's window now
        robot_api.limit = len(robot_api.posted())
        with pytest.raises(SendError) as limited:
            await robot.send_markdown("one too many")
        assert limited.value.retry_after == WINDOW
        assert pacer.delay() > WINDOW * 0.9  # and every post to this robot waits
    finally:
        await robot.close()
        await wrong.close()


def test_fit_cuts_whole_lines_within_4096_bytes() -> None:
    short = "**CZ-AAAA-BBBB**\nok"
    assert fit(short) == short
    lines = "\n".join(f"第{i}行 CZ-AAAA-{i:04d}" for i in range(400))
    cut = fit(lines)
    assert len(cut.encode()) <= MAX_BYTES and cut.endswith("\n…")
    assert all(line in lines.split("\n") for line in cut.split("\n")[:-1])  # no line broken
    assert len(fit("字" * 2000).encode()) <= MAX_BYTES


async def test_a_wecom_card_carries_no_contact_details_and_links_to_the_console(
    tmp_path: Path, robot_api: FakeWeCom
) -> None:
    settings = wecom_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'card.db'}", commands.keygen(), robot_api
    )
    await commands.upgrade(settings)
    store = await Store.open(settings)
    try:
        ref = await make_referral(
            store, 7, name="王芳", phone="+86 138 0013 8000", email="wf@example.org", card=False
        )
        details = await store.referral(ref)
        assert details is not None
        zh = WeComTexts(TeamTexts("zh-Hans"), CONSOLE + "/").card(details)
        en = WeComTexts(TeamTexts("en"), CONSOLE).card(details)
    finally:
        await store.close()
    for card in (zh, en):
        assert f"({CONSOLE}/referrals/{ref})" in card
        for private in ("王芳", "138", "wf@example.org", "130", "8.5", "flyer-sh01"):
            assert private not in card.replace(ref, ""), private
    assert f"**New referral {ref}**" in en and "Likely eligible" in en
    assert "web console" in en and "结果" in zh and "New referral" not in zh


# -- through the outbox ---------------------------------------------------------------------


async def test_a_burst_of_200_referrals_arrives_complete_once_each_without_rate_errors(
    delivery: Delivery, robot_api: FakeWeCom, store: Store
) -> None:
    started = time.monotonic()
    refs = [await wecom_referral(store, 9000)]
    await until(lambda: delivered(robot_api), 10, "the first card")  # a quiet moment: a card
    for first in range(1, 200, 25):  # many patients finishing at once, 25 at a time
        batch = range(first, min(first + 25, 200))
        refs += await asyncio.gather(*(wecom_referral(store, 9000 + n) for n in batch))
    made = time.monotonic() - started
    await until(lambda: sum(delivered(robot_api).values()) >= 200, 60, "every referral")
    took = time.monotonic() - started
    await asyncio.sleep(WINDOW)  # anything more would have been posted by now
    seen = delivered(robot_api)
    print(
        f"\nWeCom burst: 200 referrals made in {made:.1f} s, all posted in {took:.1f} s, "
        f"{len(robot_api.posted())} messages, {robot_api.rate_errors} rate errors"
    )
    assert set(seen) == set(refs)
    assert sum(seen.values()) == 200  # none twice
    assert robot_api.rate_errors == 0 and not robot_api.refusals
    digests = [p for p in robot_api.posted() if len(REF.findall(p.content)) > 20]
    assert digests, "the burst became a digest"
    assert all(len(p.content.encode()) <= MAX_BYTES for p in robot_api.posted())
    counts = await store.outbox_counts()
    assert counts.get("pending", 0) == 0 and counts.get("failed", 0) == 0


async def test_a_restart_in_the_middle_of_a_burst_loses_and_repeats_nothing(
    delivery: Delivery, robot_api: FakeWeCom, store: Store
) -> None:
    refs = [await wecom_referral(store, 9600 + n) for n in range(60)]
    await asyncio.sleep(0.2)  # the worker is sending, or gathering the burst
    await delivery.stop()
    refs += [await wecom_referral(store, 9700 + n) for n in range(5)]  # while it is down
    # a restarted process paces afresh: it is down longer than the robot's minute (the
    # fake's clock moves on by one window; within it, a 45009 would be retried)
    robot_api.clock = lambda: time.monotonic() + WINDOW
    delivery.start()
    await until(lambda: sum(delivered(robot_api).values()) >= len(refs), 30, "every referral")
    await asyncio.sleep(WINDOW)
    seen = delivered(robot_api)
    assert set(seen) == set(refs) and sum(seen.values()) == len(refs)
    assert robot_api.rate_errors == 0


class DyingStore:
    """A worker's view of the store that stops writing at once when its process "dies"."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def mark_sent(self, item_id: int, worker_id: str) -> bool:
        return False if self.dead else await self.store.mark_sent(item_id, worker_id)

    async def mark_failed(self, *args: Any, **kwargs: Any) -> bool:
        return False if self.dead else await self.store.mark_failed(*args, **kwargs)


async def test_a_killed_process_loses_nothing_and_repeats_at_most_its_last_post(
    robot_api: FakeWeCom, settings: Settings, store: Store
) -> None:
    """Killed mid-stream, its claimed cards are taken over after their lease by the restart."""
    options = replace(FAST, lease=timedelta(seconds=1))
    texts = TeamTexts("zh-Hans")
    dying = DyingStore(store)
    first = wecom_destination(settings, dying, texts)  # type: ignore[arg-type]
    second = wecom_destination(settings, store, texts)
    worker = OutboxWorker(
        dying,  # type: ignore[arg-type]
        None,
        texts,
        team_pacer=None,
        routes=[first.route()],
        options=options,
        worker_id="killed",
    )
    task = asyncio.create_task(worker.run())
    restarted: asyncio.Task[None] | None = None
    try:
        refs = [await wecom_referral(store, 9500 + n) for n in range(12)]  # no burst: cards
        await until(lambda: len(robot_api.posted()) >= 4, 20, "the first cards")
        dying.dead = True  # SIGKILL: no more writes, claimed items keep their lease
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        after = OutboxWorker(
            store,
            None,
            texts,
            team_pacer=None,
            routes=[second.route()],
            options=options,
            worker_id="restarted",
        )
        restarted = asyncio.create_task(after.run())
        await until(lambda: set(delivered(robot_api)) == set(refs), 30, "every referral")
        await asyncio.sleep(WINDOW)
        after.stop()
        await asyncio.wait_for(restarted, 10)
    finally:
        await first.robot.close()
        await second.robot.close()
    seen = delivered(robot_api)
    assert set(seen) == set(refs)
    assert sum(seen.values()) <= len(refs) + 1  # at most the post in flight at the kill
    assert robot_api.rate_errors == 0


async def test_two_processes_share_the_robot_and_post_each_card_once(
    robot_api: FakeWeCom, settings: Settings, store: Store
) -> None:
    """Two processes on one database, each with half the robot's minute."""
    half = settings.model_copy(update={"wecom_per_minute": 9})
    first, second = Delivery(half), Delivery(half)
    first.start()
    second.start()
    try:
        refs = [await wecom_referral(store, 9400 + n) for n in range(30)]
        await until(lambda: sum(delivered(robot_api).values()) >= 30, 30, "every referral")
        await asyncio.sleep(WINDOW)
    finally:
        await first.stop()
        await second.stop()
    seen = delivered(robot_api)
    assert set(seen) == set(refs) and sum(seen.values()) == 30
    assert robot_api.rate_errors == 0


async def test_rate_errors_from_a_shared_robot_are_waited_out(
    delivery: Delivery, robot_api: FakeWeCom, store: Store
) -> None:
    """Someone else's posts fill the robot's minute: 45009, then everything arrives once."""
    for _ in range(20):
        robot_api.handle(robot_api.key, b'{"msgtype":"text","text":{"content":"other"}}')
    refs = [await wecom_referral(store, 9800 + n) for n in range(3)]
    await until(lambda: len(delivered(robot_api)) == 3, 30, "the three cards")
    assert robot_api.rate_errors >= 1
    seen = delivered(robot_api)
    assert set(seen) == set(refs) and sum(seen.values()) == 3


async def test_reminders_reach_the_robot(
    delivery: Delivery, robot_api: FakeWeCom, settings: Settings, store: Store
) -> None:
    assert configured_reminders(settings) == (WECOM_REMINDER,)
    ref = await make_referral(store, 9900, card=False)
    # older than the reminder period: remind now, as the reminder loop does
    queued = await remind(store, 0, kinds=configured_reminders(settings))
    assert queued == [ref]
    posted = await until(
        lambda: [p for p in robot_api.posted() if "⏰" in p.content], 10, "the reminder"
    )
    assert ref in posted[0].content and f"{CONSOLE}/referrals)" in posted[0].content


async def test_an_erased_referral_gets_no_wecom_card(
    robot_api: FakeWeCom, settings: Settings, store: Store
) -> None:
    ref = await wecom_referral(store, 9950)
    await store.erase_person("tg:9950")
    texts = TeamTexts("zh-Hans")
    destination = wecom_destination(settings, store, texts)
    try:
        items = await store.claim_outbox("test", 10, kinds=[WECOM_CARD])
        assert [i.payload["ref"] for i in items] == [ref]
        await destination.handle(items[0])
    finally:
        await destination.robot.close()
    assert robot_api.posted() == []


# -- configuration --------------------------------------------------------------------------


def test_start_up_refuses_a_wecom_robot_without_the_console_address(
    robot_api: FakeWeCom,
) -> None:
    base = {"data_encryption_key": commands.keygen(), "wecom_robot_key": robot_api.key}
    no_console = Settings(**base, _env_file=None)  # type: ignore[arg-type]
    with pytest.raises(StartupRefused, match="WEB_BASE_URL"):
        check(no_console)
    whole_url = Settings(
        **{**base, "wecom_robot_key": f"https://x/send?key={robot_api.key}"},  # type: ignore[arg-type]
        web_base_url=CONSOLE,
        _env_file=None,
    )
    with pytest.raises(StartupRefused, match="not the whole address"):
        check(whole_url)
    check(Settings(**base, web_base_url=CONSOLE, _env_file=None))  # type: ignore[arg-type]

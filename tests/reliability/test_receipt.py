"""Kill the real bot process (SIGKILL) where it hurts, with other patients' traffic flowing.

The fake Bot API delivers every update again until a later getUpdates offset confirms it, as
Telegram does. The process kills itself at a named point (``bot.crashpoints``): a batch
fetched but not stored, stored but not confirmed, a turn committed but not replied to, replied
to but not marked done; for every kind of update (text, tap, contact, command). After the
restart the update must have been applied exactly once and answered. A sample of the points
(seeded) runs in ``make test``; every combination, and many more timed kills 10 ms after the
last tap of a screening, run in ``make test-long``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.channels.telegram.markup import callback_data
from bot.config import Settings
from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event
from bot.storage.commands import keygen, upgrade
from bot.storage.inbox import Inbox
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN, Patient
from tests.fakebotapi import FakeBotAPI
from tests.reliability.test_crash import BotProcess
from tests.running import settled
from tests.storage.conftest import pg_admin, pg_server, with_database
from tests.team.conftest import until

__all__ = ["pg_server"]  # the fixture, for the PostgreSQL runs

TEAM = -1009876543210
POINTS = ("fetched", "received", "committed", "replied")
KINDS = ("text", "tap", "contact", "command")
BYSTANDERS = (9101, 9102, 9103)
SEED = int(os.environ.get("CRASH_SEED", "16"))
HANDOFF = ("yes", "13800138000", "Li Lei", "skip", "morning")  # up to the call language


@dataclass
class Case:
    """A person seeded before an update of ``kind``; ``act`` sends it."""

    kind: str
    seed: list[Event]
    event: Event


def cases(engine: Engine) -> dict[str, Case]:
    """One person's situation for each kind of update."""
    before_age = [Event.tap("diabetes_diagnosed", "yes")]
    before_sex = [*before_age, Event.say("45")]
    handoff = [Event.say(HANDOFF[0])]  # share: yes; the phone number comes next
    return {
        "text": Case("text", before_age, Event.say("45")),
        "tap": Case("tap", before_sex, Event.tap("sex", "female")),
        "contact": Case("contact", _screened(engine) + handoff, Event.contact("+8613800138000")),
        "command": Case("command", before_sex, Event.cmd("back")),
    }


def _screened(engine: Engine) -> list[Event]:
    """The events of a whole eligible screening (answers as the engine takes them)."""
    patient = Patient(engine)
    events: list[Event] = []
    for _ in range(100):
        asked = patient.asked
        if asked is None or asked.step not in ELIGIBLE_EN:
            break
        value = ELIGIBLE_EN[asked.step]
        choice = any(c.id == value for c in asked.choices)
        event = Event.tap(asked.step, value) if choice else Event.say(value)
        events.append(event)
        patient.send(event)
    return events


def expected(engine: Engine, case: Case) -> tuple[str, list[str]]:
    """The state after the case's update, and the facts it answers."""
    patient = Patient(engine)
    for event in case.seed:
        patient.send(event)
    result = patient.send(case.event)
    return patient.conv.state, [fact for fact, _ in result.answered]


async def seed_person(store: Store, engine: Engine, user: int, events: list[Event]) -> str:
    """Store a conversation as the engine leaves it after ``events``; return its state."""
    patient = Patient(engine)
    for event in events:
        patient.send(event)
    async with store.turn(f"tg:{user}", None) as turn:
        turn.save(patient.conv.to_json(), chat_id=user)
    return patient.conv.state


def send(fake: FakeBotAPI, user: int, event: Event) -> int:
    """Let the fake person send the Telegram update that becomes ``event``; return its id."""
    who = {"first_name": "Li Lei", "language_code": "en"}
    if event.kind == "text":
        update = fake.user_sends(user, event.text, **who)
    elif event.kind == "tap":
        message_id = fake.messages(user)[-1].message_id  # the question shown by `greet`
        update = fake.user_taps(user, message_id, callback_data(event.step, event.option), **who)
    elif event.kind == "contact":
        update = fake.user_shares_contact(user, event.text, first_name="Li", language_code="en")
    else:
        update = fake.user_command(user, f"/{event.command}", **who)
    return int(update["update_id"])


async def handled(settings: Settings, update_id: int) -> None:
    """Wait (bounded) until the bot marked the update done in its inbox."""
    store = await Store.open(settings)
    try:
        inbox = Inbox(store)
        for _ in range(600):  # the condition checked every 50 ms, for at most 30 s
            if await inbox.is_done(update_id):
                return
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    raise AssertionError(f"update {update_id} was never marked done")


async def all_handled(fake: FakeBotAPI, settings: Settings, timeout: float = 60) -> None:
    """Wait (bounded) until every update is confirmed and handled: no reply comes after that.
    (Cards are waited for one by one; one already shown is never sent again.)"""
    store = await Store.open(settings)
    try:
        await settled(fake, store, timeout)
    finally:
        await store.close()


async def greet(fake: FakeBotAPI, users: list[int]) -> None:
    """Have each seeded person send a sticker, so their chat shows the current question."""
    for user in users:
        since = fake.mark()
        fake.user_sends_sticker(user, language_code="en")
        await fake.wait_for(
            lambda m, u=user: m.chat_id == u and "only read" not in m.text, 30, since=since
        )


class Bystanders:
    """Other patients sending stickers all along; every sticker must be answered.

    Closed loop: each sends its next sticker only once its last one had a reply (and a pause
    after it), so a slow machine gets fewer stickers rather than a backlog the flood guard
    would set aside; whatever the pace, none may be lost or handled twice across the kills."""

    PAUSE = 0.5  # between a reply and the next sticker: the traffic's pace at most

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self.sent = dict.fromkeys(BYSTANDERS, 0)
        self._stop = asyncio.Event()
        self._task: asyncio.Future[list[None]] | None = None

    def start(self) -> None:
        self._task = asyncio.gather(*(self._run(user) for user in BYSTANDERS))

    async def _run(self, user: int) -> None:
        while not self._stop.is_set():
            before = len(self.fake.messages(user))
            self.fake.user_sends_sticker(user, language_code="en")
            self.sent[user] += 1
            while len(self.fake.messages(user)) <= before and not self._stop.is_set():
                with contextlib.suppress(TimeoutError):  # a reply, or the end of the test
                    await asyncio.wait_for(self._stop.wait(), 0.02)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.PAUSE)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def answered(self, user: int) -> int:
        return sum("only read" in m.text for m in self.fake.messages(user))

    async def all_answered(self, kills: int) -> None:
        """Wait (bounded) until every sticker has had its reply.

        A sticker whose turn committed just before a kill is answered after the restart with
        the current question alone, so up to ``kills`` replies may be that instead.
        """
        try:
            await until(
                lambda: all(self.answered(u) >= n - kills for u, n in self.sent.items()), 120
            )
        except AssertionError:
            got = {u: self.answered(u) for u in self.sent}
            pending = len(self.fake.pending_updates)
            raise AssertionError(
                f"stickers {self.sent}, answered {got}, {pending} pending"
            ) from None

    def check(self, kills: int) -> None:
        """Every sticker answered once (twice at most when a kill came between reply and mark)."""
        for user, count in self.sent.items():
            answered = self.answered(user)
            assert answered >= count - kills, f"bystander {user}: {count} stickers, {answered}"
            assert answered <= count + kills, "stickers answered over and over"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (PostgreSQL from TEST_POSTGRES_URL)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = f"trialbot_receipt_{os.getpid()}_{random.randrange(10**8)}"
    asyncio.run(pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server, name)
    finally:
        asyncio.run(pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def started(fake: FakeBotAPI, tmp_path: Path, url: str) -> tuple[BotProcess, Settings]:
    settings = Settings(database_url=url, data_encryption_key=keygen(), _env_file=None)  # type: ignore[call-arg]
    await upgrade(settings)
    env = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
        "DATABASE_URL": url,
        "DATA_ENCRYPTION_KEY": settings.data_encryption_key.get_secret_value(),  # type: ignore[union-attr]
        "STUDY_TEAM_CHAT_ID": str(TEAM),
        "FLOOD_BURST": "1000",
        "FLOOD_QUEUE": "1000",
        "LOG_LEVEL": os.environ.get("CRASH_LOG", "WARNING"),
    }
    return Restartable(env, tmp_path, fake), settings


class Restartable(BotProcess):
    """The bot process, started while other traffic flows (so never waiting for quiet)."""

    log = asyncio.subprocess.DEVNULL if not os.environ.get("CRASH_LOG") else None

    async def start(self) -> None:
        mark = len(self.fake.calls)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self.log,
        )
        await self.polling(mark)


async def died(bot: BotProcess, timeout: float = 30) -> None:
    """Wait until the process has killed itself (its crash point was reached)."""
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), timeout)
    assert code == -signal.SIGKILL, f"the bot exited with {code}, not by its crash point"


def sample(combos: list[tuple[str, str]], slow: bool) -> list[tuple[str, str]]:
    """Every combination in the long run; a seeded four (one per point) otherwise."""
    if slow:
        return combos
    rng = random.Random(SEED)
    return [(point, rng.choice(KINDS)) for point in POINTS]


async def run_kill_points(url: str, tmp_path: Path, combos: list[tuple[str, str]]) -> None:
    engine = load_engine()
    async with FakeBotAPI() as fake:
        fake.add_group(TEAM, "Study team", members=[777])
        bot, settings = await started(fake, tmp_path, url)
        store = await Store.open(settings)
        all_cases = cases(engine)
        people: list[tuple[int, Case]] = []
        try:
            for index, (_, kind) in enumerate(combos):
                user = 8100 + index
                await seed_person(store, engine, user, all_cases[kind].seed)
                people.append((user, all_cases[kind]))
        finally:
            await store.close()
        bystanders = Bystanders(fake)
        await bot.start()
        await greet(fake, [user for user, _ in people])
        bystanders.start()
        try:
            for (point, kind), (user, case) in zip(combos, people, strict=True):
                await bot.stop()
                bot.env["TRIALBOT_CRASH_AT"] = f"{point}.{kind}:1"
                await bot.start()
                since = fake.mark()
                send(fake, user, case.event)
                await died(bot)
                del bot.env["TRIALBOT_CRASH_AT"]
                await bot.start()
                await fake.wait_for(lambda m, u=user: m.chat_id == u, timeout=30, since=since)
            await bystanders.stop()
            await bystanders.all_answered(len(combos))
            await all_handled(fake, settings)
        finally:
            await bystanders.stop()
            await bot.stop()
        bystanders.check(len(combos))
        store = await Store.open(settings)
        try:
            for user, case in people:
                state, facts = expected(engine, case)
                async with store.turn(f"tg:{user}", None) as turn:
                    assert turn.record is not None
                    assert turn.record["state"] == state, (case.kind, turn.record["state"])
                history = [a.fact for a in await store.answer_history(f"tg:{user}")]
                assert history == facts, f"{case.kind}: answers {history}, expected {facts}"
        finally:
            await store.close()


async def test_kill_points_sample(database: str, tmp_path: Path) -> None:
    await run_kill_points(database, tmp_path, sample([], slow=False))


@pytest.mark.slow
async def test_kill_points_every_kind(database: str, tmp_path: Path) -> None:
    combos = [(point, kind) for point in POINTS for kind in KINDS]
    await run_kill_points(database, tmp_path, sample(combos, slow=True))


async def run_last_tap_kills(url: str, tmp_path: Path, repeats: int, delay: float) -> None:
    """Kill ``delay`` s after the last tap of a screening, ``repeats`` times."""
    engine = load_engine()
    async with FakeBotAPI() as fake:
        fake.add_group(TEAM, "Study team", members=[777])
        bot, settings = await started(fake, tmp_path, url)
        store = await Store.open(settings)
        events = _screened(engine) + [Event.say(a) for a in HANDOFF]
        users = [8500 + i for i in range(repeats)]
        try:
            for user in users:
                step = await seed_person(store, engine, user, events)
        finally:
            await store.close()
        bystanders = Bystanders(fake)
        await bot.start()
        await greet(fake, users)
        bystanders.start()
        codes: dict[int, str] = {}
        try:
            for user in users:
                since = fake.mark()
                tap = send(fake, user, Event.tap(step, "en"))
                await asyncio.sleep(delay)  # the fault: a kill 10 ms after the tap
                await bot.kill()
                await bot.start()
                ending = await fake.wait_for(_code_in(user), timeout=30, since=since)
                code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", ending.text)
                assert code is not None
                codes[user] = found = code.group(0)
                await fake.wait_for(
                    lambda m, c=found: m.chat_id == TEAM and c in m.text,
                    timeout=30,
                    since=since,
                )
                await handled(settings, tap)  # the next kill is meant for the next tap
            await bystanders.stop()
            await bystanders.all_answered(repeats)
            await all_handled(fake, settings)
        finally:
            await bystanders.stop()
            await bot.stop()
        bystanders.check(repeats)
        twice = 0
        for user, code in codes.items():
            cards = [m for m in fake.messages(TEAM) if code in m.text]
            assert len(cards) == 1, f"{code}: {len(cards)} cards"
            told = [m for m in fake.messages(user) if code in m.text]
            assert 1 <= len(told) <= 2, f"{code}: the patient was told {len(told)} times"
            twice += len(told) == 2
        # A reply goes out at least once: only a kill in the instant between the
        # confirmation's sendMessage and the update's done mark repeats it (README).
        print(f"\n{repeats} kills: the confirmation was shown twice {twice} times")
        assert twice <= max(1, repeats // 10), f"{twice} of {repeats} confirmations repeated"


def _code_in(user: int) -> Callable[[object], bool]:
    def probe(message: object) -> bool:
        return getattr(message, "chat_id", None) == user and "CZ-" in getattr(message, "text", "")

    return probe


async def test_kill_after_the_last_tap(database: str, tmp_path: Path) -> None:
    await run_last_tap_kills(database, tmp_path, repeats=3, delay=0.010)


@pytest.mark.slow
async def test_kill_after_the_last_tap_many_times(database: str, tmp_path: Path) -> None:
    await run_last_tap_kills(database, tmp_path, repeats=30, delay=0.010)

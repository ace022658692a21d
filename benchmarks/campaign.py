"""An outreach campaign at Telegram's limits (issue #19).

``patients`` new people arrive within ``arrival_window`` seconds (a post in a large channel)
and each plays a whole screening from a real profile (``campaign_script``), answering at a
human pace: a seeded think time per answer, read from a log-normal distribution (median
``think_median`` s; typed answers take half as long again). The bot runs as ``python -m bot
run`` does, in a process of its own (``campaign_bot``), against the fake Bot API with
Telegram's limits enforced: 30 messages a second in all, a short burst then one a second per
private chat, 20 a minute per group, 429 with ``retry_after`` beyond them. Time is compressed
by ``speed``: think times, arrivals, every limit of the fake and every pacing of the bot run
that many times faster, and every figure is given back in campaign seconds.

The same arrivals and think times are played, in the same run, through an ideal sender: first
come, first served, exactly ``cap`` messages a second, no processing time. Its waits are the
yardstick for the bot's.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.campaign_script import ROOT, Script, Scripts
from benchmarks.harness import Databases
from benchmarks.stub import TOKEN
from bot.channels.telegram.app import telegram_policy
from bot.config import Settings
from bot.engine.engine import load_engine
from tests.fakebotapi import FakeBotAPI, SentMessage

TEAM_CHAT = -1001234567890
TARGET = "cap >= 95 % while queued, p95 <= 1.2 x ideal, 0 x 429, all completed"
NOT_ANSWERS = {"getUpdates", "getMe", "setMyCommands", "deleteWebhook", "getChat"}


@dataclass
class CampaignOptions:
    """The size and pace of one campaign."""

    patients: int = 1_000
    arrival_window: float = 60.0  # campaign seconds in which they all arrive
    speed: float = 3.0  # time compression (at 10 the fake and the patients need a core)
    think_median: float = 6.0  # campaign seconds before an answer (taps; typed x 1.5)
    think_sigma: float = 0.5
    seed: int = 19
    cap: float = 30.0  # Telegram's messages per second for the bot
    chat_burst: int = 3  # sends a private chat takes at once before one a second
    reply_timeout: float = 600.0  # campaign seconds a patient waits for a reply, then gives up

    @classmethod
    def smoke(cls) -> CampaignOptions:
        """A dozen patients, fast: proves a campaign completes, measures nothing (CI)."""
        return cls(patients=12, arrival_window=5.0, speed=40.0)


@dataclass
class Patient:
    """One simulated person: their screening, when they arrive, how long they think."""

    user_id: int
    script: Script
    arrival: float  # campaign seconds after the start
    thinks: list[float]  # before each step (0 for the first)
    received: int = 0  # messages the bot sent them
    waiter: tuple[int, asyncio.Future[float]] | None = None
    waits: list[float] = field(default_factory=list)  # campaign seconds, per step
    error: str = ""


def plan(opts: CampaignOptions, pool: Sequence[Script]) -> list[Patient]:
    """Seeded patients: a profile each, an arrival time and a think time per answer."""
    rng = random.Random(opts.seed)
    patients = []
    mu = math.log(opts.think_median)
    for n in range(opts.patients):
        script = pool[rng.randrange(len(pool))]
        thinks = [0.0]
        for step in script.steps[1:]:
            think = rng.lognormvariate(mu, opts.think_sigma) * (1.5 if step.kind == "text" else 1)
            thinks.append(min(60.0, max(1.0, think)))
        arrival = rng.uniform(0.0, opts.arrival_window)
        patients.append(Patient(20_000_000 + n, script, arrival, thinks))
    return patients


def ideal_waits(patients: list[Patient], cap: float) -> list[float]:
    """Each step's wait for its whole reply from a first-come, first-served sender of exactly
    ``cap`` messages a second, on the same arrivals and think times."""
    heap = [(p.arrival, n, 0) for n, p in enumerate(patients)]
    heapq.heapify(heap)
    free, gap, waits = 0.0, 1.0 / cap, []
    while heap:
        t, n, k = heapq.heappop(heap)
        steps = patients[n].script.steps
        m = steps[k].messages
        done = t if m == 0 else max(t, free) + (m - 1) * gap
        if m:
            free = done + gap
        waits.append(done - t)
        if k + 1 < len(steps):
            heapq.heappush(heap, (done + patients[n].thinks[k + 1], n, k + 1))
    return waits


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Run:
    """The fake, the bot process and the patients of one campaign."""

    def __init__(self, opts: CampaignOptions, settings: Settings, key: str) -> None:
        self.opts = opts
        self.settings = settings
        self.key = key
        self.patients = plan(opts, _scripts(settings))
        self.by_id = {p.user_id: p for p in self.patients}
        self.fake = FakeBotAPI(
            token=TOKEN,
            rate_limits=True,
            max_per_second=round(opts.cap),
            group_limit_per_minute=20,
            chat_per_second=1.0,
            chat_burst=opts.chat_burst,
            time_scale=opts.speed,
        )
        self.fake.on_send = self._sent
        self.sends: list[tuple[float, int]] = []  # (monotonic time, chat) of every send
        self.waiting: list[tuple[float, int]] = []  # (time, +1 asked / -1 answered)
        self.t0 = 0.0

    def _sent(self, msg: SentMessage, moment: float) -> None:
        self.sends.append((moment, msg.chat_id))
        patient = self.by_id.get(msg.chat_id)
        if patient is None:
            return
        patient.received += 1
        if patient.waiter is not None and patient.received >= patient.waiter[0]:
            future = patient.waiter[1]
            patient.waiter = None
            if not future.done():
                future.set_result(moment)

    def _last_with(self, user_id: int, data: str) -> int:
        for msg in reversed(self.fake.messages(user_id)):
            if any(b.get("callback_data") == data for b in msg.buttons):
                return msg.message_id
        raise LookupError(f"no button {data!r} in chat {user_id}")

    async def _play(self, p: Patient) -> None:
        speed, loop = self.opts.speed, asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.t0 + p.arrival / speed - time.monotonic()))
        self.fake.add_user(p.user_id, "Patient", language_code=p.script.language)
        expected = 0
        for k, step in enumerate(p.script.steps):
            if k:
                await asyncio.sleep(p.thinks[k] / speed)
            expected += step.messages
            future: asyncio.Future[float] = loop.create_future()
            p.waiter = (expected, future)
            if p.received >= expected:
                future.set_result(time.monotonic())
            asked = time.monotonic()
            self.waiting.append((asked, 1))
            if step.kind == "tap":
                self.fake.user_taps(p.user_id, self._last_with(p.user_id, step.data), step.data)
            else:
                self.fake.user_sends(p.user_id, step.text)
            try:
                answered = await asyncio.wait_for(future, self.opts.reply_timeout / speed)
            except TimeoutError:
                p.error = f"no whole reply to step {k} ({step.kind}) of {p.script.profile}"
                self.waiting.append((time.monotonic(), -1))
                return
            self.waiting.append((answered, -1))
            p.waits.append((answered - asked) * speed)

    async def _bot(self, log_path: str) -> asyncio.subprocess.Process:
        speed = self.opts.speed
        env = {
            **os.environ,
            **self.fake.env(),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.settings.database_url,
            "DATA_ENCRYPTION_KEY": self.key,
            "TELEGRAM_MAX_RATE": str(self.opts.cap * speed),
            "FLOOD_RATE": str(speed),
            "STUDY_TEAM_CHAT_ID": str(TEAM_CHAT),
            "LOG_LEVEL": "INFO",
        }
        with open(log_path, "wb") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.campaign_bot", str(speed),
                cwd=ROOT, env=env, stdout=log, stderr=log,
            )  # fmt: skip

    async def run(self) -> dict[str, Any]:
        """Play the campaign; return its figure."""
        await self.fake.start()
        self.fake.add_group(TEAM_CHAT, "Study team")
        log_path = tempfile.mktemp(prefix="trialbot-campaign-", suffix=".log")
        proc = await self._bot(log_path)
        try:
            await self._until(lambda: bool(self.fake.calls_to("getUpdates")), 60, proc, log_path)
            await self._warm_up(proc, log_path)
            cpu0 = _cpu(proc.pid)
            self.t0 = time.monotonic() + 0.2
            started = time.monotonic()
            await asyncio.gather(*(self._play(p) for p in self.patients))
            played = time.monotonic() - started
            cpu = _cpu(proc.pid) - cpu0
            shares = sum(p.script.shares for p in self.patients if not p.error)
            await self._until(lambda: self._cards() >= shares, 120, proc, log_path, strict=False)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    proc.kill()
            await self.fake.stop()
        if not os.environ.get("CAMPAIGN_KEEP_LOG"):
            with contextlib.suppress(OSError):
                os.unlink(log_path)
        else:
            print("bot log:", log_path, file=sys.stderr)
        return self.figure(played, cpu)

    async def _warm_up(self, proc: asyncio.subprocess.Process, log_path: str) -> None:
        """One screening's first steps by someone else first: the first updates of a process
        load what is loaded lazily (about half a second on this machine)."""
        user = 19_999_999
        self.fake.add_user(user, "Warm-up", language_code="en")
        self.fake.user_command(user, "/start")
        await self._until(lambda: len(self.fake.messages(user)) >= 2, 60, proc, log_path)
        data = "a|consent|agree"
        self.fake.user_taps(user, self._last_with(user, data), data)
        await self._until(lambda: len(self.fake.messages(user)) >= 3, 60, proc, log_path)

    def _cards(self) -> int:
        from tests.team.test_burst import delivered

        return len(delivered(self.fake))

    async def _until(
        self,
        ready: Any,
        seconds: float,
        proc: asyncio.subprocess.Process,
        log_path: str,
        *,
        strict: bool = True,
    ) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if proc.returncode is not None:
                tail = Path(log_path).read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"campaign: the bot stopped ({proc.returncode}): {tail}")
            if time.monotonic() > deadline:
                if strict:
                    raise RuntimeError("campaign: the bot did not get ready in time")
                return
            await asyncio.sleep(0.1)

    def figure(self, played: float, bot_cpu: float) -> dict[str, Any]:
        from benchmarks.campaign_figure import figure

        return figure(self, played, bot_cpu)


_SCRIPTS: dict[str, Scripts] = {}


def _scripts(settings: Settings) -> Scripts:
    """The profiles' scripts, through the engine as ``serve`` builds it (made once)."""
    if settings.flow not in _SCRIPTS:
        engine = load_engine(
            settings.flow,
            policy=telegram_policy(settings.model_copy(update={"study_team_chat_id": TEAM_CHAT})),
            contact_promise_days=settings.contact_promise_days,
            call_languages=settings.call_languages,
        )
        _SCRIPTS[settings.flow] = Scripts(engine)
    return _SCRIPTS[settings.flow]


def _cpu(pid: int) -> float:
    """CPU seconds a process has used (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def campaign(dbs: Databases, opts: CampaignOptions) -> dict[str, Any]:
    """One campaign on a fresh database of ``dbs``'s kind."""
    settings = await dbs.new("campaign")
    return await Run(opts, settings, dbs.key).run()


def calls_by_kind(fake: FakeBotAPI) -> Counter[str]:
    """The Bot API calls the bot made for patients and the team (not polling or set-up)."""
    return Counter(c.method for c in fake.calls if c.method not in NOT_ANSWERS)

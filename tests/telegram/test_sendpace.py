"""The send pacer keeps Telegram's limits, first come first served, on a clock the test moves."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from telegram.error import RetryAfter

from benchmarks.campaign_figure import most_in_any
from bot.channels.telegram.sendpace import SendLimiter, SendLimits, SendPacer, messages_in
from tests.telegram.fakeclock import FakeClock, settle


class Api:
    """A Bot API stand-in: records each call at the clock's time; may answer 429."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, str, Any, str]] = []  # time, method, chat, tag
        self.floods: dict[str, int] = {}  # tag -> 429s still to give

    async def __call__(self, method: str, chat: Any, tag: str) -> bool:
        self.calls.append((self.clock.now(), method, chat, tag))
        if self.floods.get(tag):
            self.floods[tag] -= 1
            raise RetryAfter(2)
        return True

    def times(self, method: str = "sendMessage") -> list[float]:
        return [t for t, m, _, _ in self.calls if m == method]

    def tags(self) -> list[str]:
        return [tag for _, m, _, tag in self.calls if m == "sendMessage"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> Api:
    return Api(clock)


def limiter(clock: FakeClock, **limits: Any) -> SendLimiter:
    return SendLimiter(SendPacer(SendLimits(**limits), clock))


def call(
    lim: SendLimiter, api: Api, chat: Any, tag: str = "", method: str = "sendMessage", **data: Any
) -> asyncio.Task[Any]:
    """Start one Bot API call through the limiter, as ExtBot makes it."""
    params = {"chat_id": chat, **data}
    return asyncio.ensure_future(
        lim.process_request(api, (method, chat, tag), {}, method, params, None)
    )


async def test_never_more_than_30_in_any_second_first_come_first_served(
    clock: FakeClock, api: Api
) -> None:
    lim = limiter(clock)
    tasks = [call(lim, api, 1000 + n, f"{n:03}") for n in range(100)]
    await clock.run_until(1.5)
    tasks += [call(lim, api, 2000 + n, f"late{n:02}") for n in range(20)]
    await clock.run_until(10.0)
    await asyncio.gather(*tasks)
    times = api.times()
    assert len(times) == 120
    assert most_in_any(times, 1.0) == 30  # the whole cap, never more
    assert api.tags() == sorted(api.tags())  # in the order they came
    assert times[:30] == [0.0] * 30 and times[30:60] == [1.0] * 30  # no second left unused


async def test_a_private_chat_gets_a_short_burst_then_one_a_second(
    clock: FakeClock, api: Api
) -> None:
    lim = limiter(clock, chat_burst=3)
    tasks = [call(lim, api, 7, f"{n}") for n in range(6)]
    await clock.run_until(10.0)
    await asyncio.gather(*tasks)
    assert api.times() == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    assert api.tags() == ["0", "1", "2", "3", "4", "5"]  # in order within the chat


async def test_a_chat_waiting_for_its_turn_holds_up_no_other_chat(
    clock: FakeClock, api: Api
) -> None:
    lim = limiter(clock, chat_burst=1)
    tasks = [call(lim, api, 7, "a1"), call(lim, api, 7, "a2"), call(lim, api, 8, "b1")]
    await clock.run_until(0.5)
    assert api.tags() == ["a1", "b1"]  # b1 came after a2 but did not wait for it
    await clock.run_until(1.0)
    await asyncio.gather(*tasks)
    assert [(t, tag) for t, _, _, tag in api.calls] == [(0.0, "a1"), (0.0, "b1"), (1.0, "a2")]


async def test_a_group_gets_at_most_20_a_minute(clock: FakeClock, api: Api) -> None:
    lim = limiter(clock)
    tasks = [call(lim, api, -100, f"{n:02}") for n in range(25)]
    tasks.append(call(lim, api, "@channel", "channel"))
    await clock.run_until(120.0)
    await asyncio.gather(*tasks)
    group = [t for t, _, chat, _ in api.calls if chat == -100]
    assert group == [0.0] * 20 + [60.0] * 5
    assert most_in_any(group, 60.0) == 20
    assert [t for t, _, chat, _ in api.calls if chat == "@channel"] == [0.0]


async def test_edits_and_callback_answers_never_wait(clock: FakeClock, api: Api) -> None:
    lim = limiter(clock)
    sends = [call(lim, api, 1000 + n) for n in range(40)]  # the window is full, ten wait
    others = [
        call(lim, api, 1001, method="editMessageText", message_id=5, text="→ Yes"),
        call(lim, api, None, method="answerCallbackQuery", callback_query_id="q"),
        call(lim, api, 1002, method="getChat"),
    ]
    await clock.run_until(0.0)
    assert all(task.done() for task in others)
    assert sum(not task.done() for task in sends) == 10
    assert [t for t, m, _, _ in api.calls if m != "sendMessage"] == [0.0, 0.0, 0.0]
    await clock.run_until(1.0)
    await asyncio.gather(*sends)


async def test_a_429_pauses_every_send_then_the_send_is_retried_first(
    clock: FakeClock, api: Api
) -> None:
    lim = limiter(clock, chat_burst=100)
    api.floods["first"] = 1
    first = call(lim, api, 1, "first")
    await clock.run_until(0.5)
    tasks = [call(lim, api, 2, "second"), call(lim, api, 3, "third")]
    await clock.run_until(1.9)
    assert api.tags() == ["first"]  # the flood wait (2 s) holds everyone
    await clock.run_until(2.0)
    assert await first is True
    await asyncio.gather(*tasks)
    assert [(t, tag) for t, _, _, tag in api.calls] == [
        (0.0, "first"),
        (2.0, "first"),  # it keeps its place at the head of the queue
        (2.0, "second"),
        (2.0, "third"),
    ]


async def test_a_429_reaches_the_caller_after_the_last_retry(clock: FakeClock, api: Api) -> None:
    lim = limiter(clock, max_retries=2)
    api.floods["x"] = 10
    task = call(lim, api, 1, "x")
    await clock.run_until(30.0)
    with pytest.raises(RetryAfter):
        await task
    assert api.times() == [0.0, 2.0, 4.0]


async def test_without_pauses_a_429_goes_straight_back(clock: FakeClock, api: Api) -> None:
    pacer = SendPacer(SendLimits(), clock)
    team = SendLimiter(pacer, max_retries=0, pauses=False)
    patients = SendLimiter(pacer)
    api.floods["card"] = 1
    card = call(team, api, -100, "card")
    await clock.run_until(0.0)
    with pytest.raises(RetryAfter):
        await card
    reply = call(patients, api, 5, "reply")
    await clock.run_until(0.0)
    assert await reply is True  # the patient's reply did not wait out the team's 429


async def test_the_team_and_the_patients_share_one_window(clock: FakeClock, api: Api) -> None:
    pacer = SendPacer(SendLimits(), clock)
    team, patients = SendLimiter(pacer, max_retries=0, pauses=False), SendLimiter(pacer)
    tasks = [call(patients, api, 1000 + n, f"p{n:02}") for n in range(29)]
    tasks += [call(team, api, -100, "card"), call(patients, api, 2000, "p29")]
    await clock.run_until(5.0)
    await asyncio.gather(*tasks)
    assert most_in_any(api.times(), 1.0) == 30
    assert api.calls[-1][0] == 1.0 and api.calls[-1][3] == "p29"


async def test_a_cancelled_send_gives_its_place_to_the_next(clock: FakeClock, api: Api) -> None:
    lim = limiter(clock)
    tasks = [call(lim, api, 1000 + n, f"{n:02}") for n in range(32)]
    await clock.run_until(0.0)
    tasks[30].cancel()  # waiting: 30 and 31
    await settle()
    await clock.run_until(1.0)
    assert tasks[30].cancelled()
    await asyncio.gather(*tasks[31:])
    assert api.tags()[-1] == "31" and api.times()[-1] == 1.0
    assert lim.pacer.waiting == 0


async def test_a_send_holds_its_place_until_its_answer_within_the_allowance(
    clock: FakeClock,
) -> None:
    """Telegram counts a send between the request and the answer: a slow answer moves the
    window on, by at most ``allowance``."""
    pacer = SendPacer(SendLimits(per_second=1.0, chat_interval=0.0, allowance=0.25), clock)
    lim, answer = SendLimiter(pacer), asyncio.Event()
    sent: list[tuple[float, str]] = []

    async def slow(tag: str) -> bool:
        sent.append((clock.now(), tag))
        if tag == "slow":
            await answer.wait()
        return True

    first, second = (
        asyncio.ensure_future(
            lim.process_request(slow, (tag,), {}, "sendMessage", {"chat_id": 1}, None)
        )
        for tag in ("slow", "next")
    )
    await clock.run_until(0.1)
    answer.set()
    await clock.run_until(5.0)
    await asyncio.gather(first, second)
    assert sent == [(0.0, "slow"), (1.1, "next")]


async def test_time_compression_and_weights(clock: FakeClock, api: Api) -> None:
    limits = SendLimits(per_second=300.0, time_scale=10.0)
    assert (limits.count, limits.window) == (30, 0.1)
    assert messages_in("sendMediaGroup", {"media": [1, 2, 3]}) == 3
    assert messages_in("editMessageText", {"chat_id": 1}) == 0
    lim = SendLimiter(SendPacer(limits, clock))
    tasks = [call(lim, api, 1000 + n) for n in range(60)]
    tasks += [call(lim, api, 5, method="sendMediaGroup", media=["a", "b"]) for _ in range(2)]
    await clock.run_until(1.0)
    await asyncio.gather(*tasks)
    assert Counter(api.times("sendMessage")) == {0.0: 30, 0.1: 30}
    # 2 + 2 messages to one chat: its burst of 3 lets the first go, the second a tick later
    assert api.times("sendMediaGroup") == pytest.approx([0.2, 0.3])

"""A fake WeCom group robot (群机器人) on 127.0.0.1, written from WeCom's public documentation.

``POST /cgi-bin/webhook/send?key=KEY`` with a JSON body ``{"msgtype": "text"|"markdown",
"<msgtype>": {"content": ...}}``. Every answer is HTTP 200 with a JSON body:

* ``{"errcode": 0, "errmsg": "ok"}``: posted to the group;
* 93000 ``invalid webhook url``: the key is missing or not a robot's;
* 45009 ``api freq out of limit``: more than ``limit`` (20) messages in ``window`` seconds
  (a minute) for this robot, counted over any window (stricter than whole minutes);
* 40058 ``markdown.content exceed max length 4096``: content over 4,096 bytes of UTF-8
  (text: 2,048); 44004 ``empty content``; 40008 ``invalid message type``.

``window`` is shorter in tests, so that they do not wait a real minute; ``fail_next`` makes
the next answers an HTTP error (a network or server fault).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.web import RequestHandler

from tests.fakehttp import LocalServer

LIMIT = 20
LIMITS = {"markdown": 4096, "text": 2048}  # bytes of UTF-8
HINT = "hint: [fake], more info at https://open.work.weixin.qq.com/devtool/query?e="


@dataclass
class Posted:
    """One message a robot posted in its group."""

    key: str
    msgtype: str
    content: str
    at: float


@dataclass
class Robot:
    key: str
    posted: list[Posted] = field(default_factory=list)
    recent: deque[float] = field(default_factory=deque)


class _Send(RequestHandler):
    def initialize(self, fake: FakeWeCom) -> None:
        self.fake = fake

    def post(self) -> None:
        status, answer = self.fake.handle(self.get_query_argument("key", ""), self.request.body)
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(answer))


class FakeWeCom:
    """Group robots by key; what they posted; the refusals they answered."""

    def __init__(
        self,
        keys: tuple[str, ...] = ("693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",),
        *,
        limit: int = LIMIT,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.robots = {key: Robot(key) for key in keys}
        self.limit = limit
        self.window = window
        self.clock = clock
        self.refusals: Counter[int] = Counter()
        self._fail: list[int] = []
        self._server = LocalServer()
        self.base_url = ""

    @property
    def key(self) -> str:
        return next(iter(self.robots))

    async def start(self) -> None:
        """Serve the robot's webhook on a free port."""
        self.base_url = self._server.start([(r"/cgi-bin/webhook/send", _Send, {"fake": self})])

    async def stop(self) -> None:
        """Stop serving."""
        await self._server.stop()

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses (e.g. 502) instead."""
        self._fail.extend(statuses)

    def posted(self, key: str | None = None) -> list[Posted]:
        return list(self.robots[key or self.key].posted)

    @property
    def rate_errors(self) -> int:
        return self.refusals[45009]

    def _refuse(self, errcode: int, errmsg: str) -> tuple[int, dict[str, Any]]:
        self.refusals[errcode] += 1
        return 200, {"errcode": errcode, "errmsg": f"{errmsg}, {HINT}{errcode}"}

    def handle(self, key: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one request as WeCom does."""
        if self._fail:
            return self._fail.pop(0), {"errcode": -1, "errmsg": "system busy"}
        robot = self.robots.get(key)
        if robot is None:
            return self._refuse(93000, "invalid webhook url")
        now = self.clock()
        while robot.recent and robot.recent[0] <= now - self.window:
            robot.recent.popleft()
        if len(robot.recent) >= self.limit:
            return self._refuse(45009, "api freq out of limit")
        try:
            message = json.loads(body)
            msgtype = str(message["msgtype"])
            content = message[msgtype]["content"]
        except (ValueError, KeyError, TypeError):
            return self._refuse(40008, "invalid message type")
        if msgtype not in LIMITS or not isinstance(content, str):
            return self._refuse(40008, "invalid message type")
        if not content:
            return self._refuse(44004, "empty content")
        limit = LIMITS[msgtype]
        if len(content.encode()) > limit:
            what = f"{msgtype}.content exceed max length {limit}. invalid Request Parameter"
            return self._refuse(40058, what)
        robot.recent.append(now)
        robot.posted.append(Posted(key, msgtype, content, now))
        return 200, {"errcode": 0, "errmsg": "ok"}

"""A person on WeChat: reads the numbered options in the bot's text and types answers."""

from __future__ import annotations

import re

from bot.engine.engine import Engine, load_engine
from bot.engine.record import Answer
from bot.i18n import get_catalogs
from tests.fakewechat import FakeWeChat
from tests.fakewechat.platform import Delivery, Sent

OPTION = re.compile(r"^\S+ (?P<key>\d+|\?) = (?P<label>.+)$", re.MULTILINE)


class Person:
    """One WeChat user of the Official Account."""

    def __init__(self, fake: FakeWeChat, openid: str, lang: str) -> None:
        self.fake = fake
        self.openid = openid
        self.lang = lang
        self.engine: Engine = load_engine(typed=True)
        self.mark = 0  # how many messages the platform had shown when the person last wrote

    def last(self) -> str:
        """Return the newest text the person received."""
        texts = self.fake.texts(self.openid)
        assert texts, "nothing received"
        return texts[-1]

    def options(self) -> dict[str, str]:
        """Return label -> key typed, from the newest text."""
        return {m["label"].strip(): m["key"] for m in OPTION.finditer(self.last())}

    async def say(self, text: str) -> Delivery:
        """Type text; the passive reply must come back."""
        self.mark = len(self.fake.sent)
        delivery = await self.fake.text(self.openid, text)
        assert delivery.statuses == [200], delivery
        return delivery

    async def pick(self, label: str) -> Delivery:
        """Type the number the newest text shows for ``label``."""
        options = self.options()
        assert label in options, f"{label!r} not offered in {self.last()!r}"
        return await self.say(options[label])

    async def click(self, label: str) -> Delivery:
        """Tap the item showing ``label`` in the newest menu, once it has arrived."""

        def menus(sent: list[Sent]) -> list[Sent]:  # the menus since the person's last message
            return [s for s in sent[self.mark :] if s.openid == self.openid and s.how == "menu"]

        await self.fake.wait_until(lambda sent: any(self._item(m, label) for m in menus(sent)))
        menu = menus(self.fake.sent)[-1]
        self.mark = len(self.fake.sent)
        delivery = await self.fake.click_menu(self.openid, self._item(menu, label), menu)
        assert delivery.statuses == [200], delivery
        return delivery

    @staticmethod
    def _item(menu: Sent, label: str) -> str:
        """Return the content of the menu item for ``label`` ("" when there is none)."""
        return next((c for _, c in menu.menu if c.split(" = ", 1)[-1].strip() == label), "")

    def label(self, qid: str, option: str) -> str | None:
        """Return an option's label in the person's language (None: not an option)."""
        t = get_catalogs().get(self.lang)
        for o in self.engine.flow.question(qid).options:
            if o.id == option:
                return t.pgettext("option", o.label)
        return None

    def asked(self, answers: dict[str, str]) -> list[str]:
        """Return the questions the flow asks for these answers, in order."""
        conv = self.engine.new(self.lang)
        order = []
        for question in self.engine.flow.questions:
            view = self.engine.flow.view(conv.answers)
            if question.when is None or question.when(view) is not False:
                order.append(question.id)
                conv.answers[question.id] = Answer(answers[question.id])
        return order

    async def screen(
        self,
        answers: dict[str, str],
        *,
        words: bool = False,
        clicks: bool = False,
        asked: slice = slice(None),
    ) -> None:
        """Answer the questions in flow order: by number, the option's words or menu clicks
        (``asked``: only those questions, counted in the order they are asked)."""
        conv = self.engine.new(self.lang)
        order = range(len(self.engine.flow.questions))[asked]
        count = -1
        for question in self.engine.flow.questions:
            view = self.engine.flow.view(conv.answers)
            if question.when is not None and question.when(view) is False:
                continue
            count += 1
            if count not in order:
                conv.answers[question.id] = Answer(answers[question.id])
                continue
            value = answers[question.id]
            label = self.label(question.id, value)
            if label is None:
                await self.say(value)
            elif clicks:
                await self.click(label)
            elif words:
                await self.say(label)
            else:
                await self.pick(label)
            conv.answers[question.id] = Answer(value)

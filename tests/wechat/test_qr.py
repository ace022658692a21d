"""`python -m bot qr`: Telegram deep links and WeChat parameterised QR codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.channels.outreach import OutreachError, payload, telegram_link, wechat_link
from bot.channels.telegram.handlers import parse_payload
from bot.config import Settings
from tests.fakewechat import FakeWeChat
from tests.wechat.conftest import wechat_settings


def test_the_payload_is_what_both_channels_read_back() -> None:
    assert parse_payload(payload("Flyer-SH01", "zh-Hant")) == ("flyer-sh01", "zh-Hant")
    with pytest.raises(OutreachError):
        payload("a b", "en")
    with pytest.raises(OutreachError):
        payload("flyer", "xx")


def test_telegram_qr_prints_the_deep_link_and_saves_an_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert telegram_link("@CZTrialBot", "flyer", "es") == (
        "https://t.me/CZTrialBot?start=flyer__es"
    )
    argv = ["qr", "--channel", "telegram", "--bot", "CZTrialBot", "--source", "poster", "--lang"]
    assert main([*argv, "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("https://t.me/CZTrialBot?start=poster__en\n") and "█" in out
    image = tmp_path / "poster.png"
    assert main([*argv, "en", "-o", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*argv[:-1], "--lang", "xx"]) == 2


@pytest.fixture
def mode() -> str:
    return "plain"


async def test_wechat_qr_asks_the_api_for_a_code_with_the_scene(
    fake: FakeWeChat, tmp_path: Path
) -> None:
    settings: Settings = wechat_settings("sqlite+aiosqlite:///:memory:", 1, fake)
    url = await wechat_link(settings, "flyer-sh01", "zh-Hans")
    ticket = url.rsplit("/", 1)[1]
    assert url.startswith("http://weixin.qq.com/q/")
    assert fake.qr_scenes[ticket] == "flyer-sh01__zh-Hans"  # read back as qrscene_<scene>
    no_secret = wechat_settings("sqlite+aiosqlite:///:memory:", 1, fake, wechat_app_secret=None)
    with pytest.raises(OutreachError):
        await asyncio.wait_for(wechat_link(no_secret, "flyer", "en"), 5)

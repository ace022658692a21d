"""A missing or wrong WeChat setting stops `python -m bot run` with one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.startup import run
from bot.storage.commands import keygen

GOOD: dict[str, Any] = {
    "wechat_app_id": "wx0123456789abcdef",
    "wechat_token": "trialtoken2026",
    "wechat_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "wechat_safe_mode": True,
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"wechat_app_id": "12345"}, "WECHAT_APP_ID"),
        ({"wechat_token": None}, "WECHAT_TOKEN"),
        ({"wechat_aes_key": "short"}, "WECHAT_AES_KEY"),
        ({"wechat_customer_service": True}, "WECHAT_APP_SECRET"),
        ({"data_encryption_key": None}, "DATA_ENCRYPTION_KEY"),
    ],
)
def test_a_wrong_setting_gives_one_clear_line(
    change: dict[str, Any], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {
        **GOOD,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "data_encryption_key": keygen(),
        **change,
    }
    settings = Settings(**values, _env_file=None)  # type: ignore[call-arg]
    assert run(settings) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and named in err and "\n" not in err


def test_plain_mode_needs_no_aes_key(tmp_path: Path) -> None:
    from bot.channels.wechat.main import check_settings

    values = {**GOOD, "wechat_aes_key": None, "wechat_safe_mode": False}
    protocol = check_settings(Settings(**values, _env_file=None))  # type: ignore[call-arg]
    assert protocol.crypto is None

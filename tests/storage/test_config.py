"""Settings: environment, .env, and .env.example listing every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.database_url == "sqlite+aiosqlite:///data/trialbot.db"
    assert s.telegram_base_url == "https://api.telegram.org/bot"
    assert (s.webhook_listen, s.webhook_port) == ("127.0.0.1", 8443)
    assert (s.retention_days, s.handoff_reminder_hours, s.contact_promise_days) == (30, 24, 2)
    assert (s.team_language, s.flow, s.log_level) == ("zh-Hans", "nct06751199", "INFO")
    assert s.coordinator_user_ids == [] and s.data_encryption_key is None


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "TELEGRAM_BOT_TOKEN=123:abc\nSTUDY_TEAM_CHAT_ID=-100200\nCOORDINATOR_USER_IDS=\n"
        "RETENTION_DAYS=60\nlog_level=debug\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("COORDINATOR_USER_IDS", "11, 22,33")
    s = Settings(_env_file=env)
    assert s.telegram_bot_token is not None
    assert s.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(s)  # secrets stay out of logs
    assert s.study_team_chat_id == -100200
    assert s.coordinator_user_ids == [11, 22, 33]
    assert (s.retention_days, s.log_level) == (60, "DEBUG")


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORDINATOR_USER_IDS", "12,abc")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
    monkeypatch.delenv("COORDINATOR_USER_IDS")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


def test_env_example_lists_every_setting_with_a_comment() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    lines = text.splitlines()
    names = []
    for i, line in enumerate(lines):
        match = re.match(r"([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.append(match.group(1))
            assert lines[i - 1].startswith("# "), f"{match.group(1)} has no comment"
    assert sorted(names) == sorted(name.upper() for name in Settings.model_fields)
    Settings(_env_file=ROOT / ".env.example")  # and it loads as it is


def test_get_settings_is_read_once() -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_call_languages_are_spoken_languages_from_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).call_languages == ["cmn", "yue", "en", "es", "ru", "ar"]
    monkeypatch.setenv("CALL_LANGUAGES", "cmn, en")
    assert Settings(_env_file=None).call_languages == ["cmn", "en"]
    monkeypatch.setenv("CALL_LANGUAGES", "zh-Hans,en")  # a script, not a spoken language
    with pytest.raises(ValueError, match="CALL_LANGUAGES"):
        Settings(_env_file=None)

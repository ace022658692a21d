"""Locale negotiation, loud failure on uncompiled catalogs, numbers and right-to-left text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, CatalogError, Catalogs, get_catalogs, negotiate
from bot.i18n.catalogs import FSI, PDI
from bot.i18n.languages import locales_dir


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-hans", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("zh-hant-tw", "zh-Hant"),
        ("en-US", "en"),
        ("es-MX", "es"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("ar", "ar"),
        ("ar-EG", "ar"),
        ("fr", "en"),
        ("xx-invalid-tag-!!", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_negotiate_maps_telegram_codes_with_english_fallback(tag: str | None, lang: str) -> None:
    assert negotiate(tag) == lang


def test_missing_compiled_catalog_refuses_to_run(tmp_path: Path) -> None:
    shutil.copytree(locales_dir(), tmp_path / "locales")
    (tmp_path / "locales" / "ru" / "LC_MESSAGES" / "messages.mo").unlink()
    with pytest.raises(CatalogError, match="make catalogs"):
        Catalogs(tmp_path / "locales")


def test_numbers_follow_each_locale() -> None:
    catalogs = get_catalogs()
    assert catalogs.get("ru").number(7.5) == "7,5"
    assert catalogs.get("es").number(7.5) == "7,5"
    assert catalogs.get("en").number(7.5) == "7.5"
    assert catalogs.get("zh-Hans").number(7.5) == "7.5"


def test_arabic_isolates_values_inside_right_to_left_text() -> None:
    message = "You typed {value}. Which unit is that? Please tap one."
    text = get_catalogs().get("ar").gettext(message, value="130 kg")
    assert f"{FSI}130 kg{PDI}" in text
    english = get_catalogs().get("en").gettext(message, value="x")
    assert FSI not in english


def test_unknown_language_falls_back_to_english() -> None:
    assert get_catalogs().get("fr").lang == "en"
    assert set(LANGUAGES) == {"en", "zh-Hans", "zh-Hant", "es", "ru", "ar"}


def test_no_module_outside_the_telegram_adapter_imports_telegram() -> None:
    root = Path(__file__).resolve().parents[1] / "bot"
    offenders = []
    for path in root.rglob("*.py"):
        if "telegram" in path.relative_to(root).parts[:2]:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import telegram", "from telegram")):
                offenders.append(str(path))
    assert offenders == []

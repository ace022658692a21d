"""Locale negotiation: a BCP 47 tag as Telegram sends it -> one of the bot's languages."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

from bot.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES

_TRADITIONAL_TERRITORIES = frozenset({"TW", "HK", "MO"})


@lru_cache(maxsize=256)
def negotiate(tag: str | None) -> str:
    """Return the supported language for ``tag``, falling back to English."""
    if not tag:
        return DEFAULT_LANGUAGE
    cleaned = tag.strip().replace("_", "-")
    if cleaned in LANGUAGES:
        return cleaned
    try:
        locale = Locale.parse(cleaned, sep="-")
    except (ValueError, UnknownLocaleError):
        return DEFAULT_LANGUAGE
    if locale.language == "zh":
        script = (locale.script or "").title()
        if script == "Hant" or (not script and locale.territory in _TRADITIONAL_TERRITORIES):
            return "zh-Hant"
        return "zh-Hans"
    return locale.language if locale.language in LANGUAGES else DEFAULT_LANGUAGE

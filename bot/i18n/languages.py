"""The languages the bot speaks, as BCP 47 tags, and where their catalogs live."""

from __future__ import annotations

from pathlib import Path

from bot.datadir import data_dir

LANGUAGES: tuple[str, ...] = ("en", "zh-Hans", "zh-Hant", "es", "ru", "ar")
DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"ar"})
DOMAIN = "messages"


def locales_dir() -> Path:
    """Return the folder holding ``<lang>/LC_MESSAGES/messages.{po,mo}`` (``LOCALES_DIR`` in
    the environment, else the package's)."""
    return data_dir("locales", "LOCALES_DIR")


def catalog_dirname(lang: str) -> str:
    """Return the folder name of a language's catalog ("zh-Hans" -> "zh_Hans")."""
    return lang.replace("-", "_")


def babel_locale(lang: str) -> str:
    """Return the Babel locale identifier for a language tag."""
    return lang.replace("-", "_")


# Each language named in itself, as people look for their own.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文",
    "es": "Español",
    "ru": "Русский",
    "ar": "العربية",
}

# Spoken languages a coordinator may call in (ISO 639-3 codes), each named in itself:
# Chinese is spoken as Mandarin or Cantonese, whichever script a patient reads.
SPOKEN_LANGUAGES: dict[str, str] = {
    "cmn": "普通话",
    "yue": "粵語",
    "en": "English",
    "es": "Español",
    "ru": "Русский",
    "ar": "العربية",
}

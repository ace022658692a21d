"""The console's languages: each named in itself, and the sign-in page's from Accept-Language."""

from __future__ import annotations

from functools import cache

from babel import Locale

from bot.i18n import LANGUAGES, negotiate
from bot.i18n.languages import DEFAULT_LANGUAGE, LANGUAGE_NAMES, babel_locale

MAX_ACCEPTED = 16  # Accept-Language entries looked at, at most


@cache
def language_names() -> tuple[tuple[str, str], ...]:
    """Every language the catalogs have, as ``(tag, its own name)`` for a menu: the names the
    bot and the referral pages use (简体中文, not Babel's 中文 (简体)), else Babel's."""
    named = []
    for lang in LANGUAGES:
        name = LANGUAGE_NAMES.get(lang) or Locale.parse(babel_locale(lang)).display_name or lang
        named.append((lang, name[:1].upper() + name[1:]))
    return tuple(named)


def from_accept_language(header: str | None, fallback: str) -> str:
    """The browser's most preferred language the catalogs have, else ``fallback``."""
    wanted: list[tuple[float, int, str]] = []
    for index, entry in enumerate((header or "").split(",")[:MAX_ACCEPTED]):
        tag, _, params = entry.strip().partition(";")
        quality = _quality(params)
        if tag and tag != "*" and quality > 0:
            wanted.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(wanted):
        found = _supported(tag)
        if found:
            return found
    return fallback


def _quality(params: str) -> float:
    name, _, value = params.strip().partition("=")
    if name.strip() != "q":
        return 1.0
    try:
        return min(1.0, max(0.0, float(value)))
    except ValueError:
        return 0.0


def _supported(tag: str) -> str | None:
    """The catalog language for ``tag``, or None (``negotiate`` alone would say English)."""
    found = negotiate(tag)
    if found == DEFAULT_LANGUAGE and tag.replace("_", "-").split("-")[0].lower() != "en":
        return None
    return found

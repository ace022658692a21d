"""Load the compiled catalogs once, refuse to run without them, and translate."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from babel.support import Translations

from bot.i18n.languages import (
    DEFAULT_LANGUAGE,
    DOMAIN,
    LANGUAGES,
    RTL_LANGUAGES,
    babel_locale,
    catalog_dirname,
    locales_dir,
)

__all__ = ["LANGUAGES", "CatalogError", "Catalogs", "Translator", "get_catalogs"]

# Unicode first-strong isolate and pop: keep "٧٫٥ kg" or a Latin name whole inside Arabic.
FSI, PDI = "\u2068", "\u2069"


class CatalogError(RuntimeError):
    """A catalog is missing or was never compiled."""


class Translator:
    """The gettext functions for one language, with placeholders filled after translation."""

    def __init__(self, lang: str, translations: Translations) -> None:
        self.lang = lang
        self.locale = babel_locale(lang)
        self.rtl = lang in RTL_LANGUAGES
        self._t = translations

    def gettext(self, msgid: str, /, **params: Any) -> str:
        """Translate ``msgid`` and fill its ``{named}`` placeholders."""
        return self._fill(str(self._t.gettext(msgid)), params)

    def pgettext(self, context: str, msgid: str, /, **params: Any) -> str:
        """Translate ``msgid`` in ``context`` (a question id) and fill its placeholders."""
        return self._fill(str(self._t.pgettext(context, msgid)), params)

    def ngettext(self, singular: str, plural: str, count: int, /, **params: Any) -> str:
        """Translate a message with plural forms; ``{n}`` is the count."""
        text = str(self._t.ngettext(singular, plural, count))
        return self._fill(text, {"n": self.number(count), **params})

    def _fill(self, text: str, params: dict[str, Any]) -> str:
        """Fill placeholders; in a right-to-left language, isolate each value's direction."""
        if not params:
            return text
        if self.rtl:
            params = {k: isolate(str(v)) for k, v in params.items()}
        return text.format(**params)

    def number(self, value: Any) -> str:
        """Format a number the way this language writes it (7,5 in Russian)."""
        return _format_number(value, self.locale)


def isolate(value: str) -> str:
    """Isolate each line of ``value`` on its own, so no line takes another's direction."""
    return "\n".join(f"{FSI}{line}{PDI}" for line in value.split("\n"))


@lru_cache(maxsize=4096)
def _format_number(value: Any, locale: str) -> str:
    return str(format_decimal(value, locale=locale, decimal_quantization=False))


class Catalogs:
    """All languages' compiled catalogs, loaded once at start-up."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or locales_dir()
        self._translators = {lang: Translator(lang, self._load(lang)) for lang in LANGUAGES}

    def _load(self, lang: str) -> Translations:
        path = self.directory / catalog_dirname(lang) / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not path.is_file():
            raise CatalogError(
                f"missing compiled catalog {path}; run `make catalogs` "
                "(pybabel compile -d locales -D messages) first"
            )
        with path.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)

    def get(self, lang: str) -> Translator:
        """Return the translator for ``lang``, or English for a language we do not speak."""
        return self._translators.get(lang) or self._translators[DEFAULT_LANGUAGE]


@lru_cache(maxsize=1)
def get_catalogs() -> Catalogs:
    """Return the process-wide catalogs, loading them on first use."""
    return Catalogs()

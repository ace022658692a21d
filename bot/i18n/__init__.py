"""Catalog loading and locale negotiation; every word a person reads passes through here."""

from bot.i18n.catalogs import LANGUAGES, CatalogError, Catalogs, Translator, get_catalogs
from bot.i18n.negotiate import negotiate


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction; it is translated later, where it is shown."""
    return msgid


__all__ = ["LANGUAGES", "N_", "CatalogError", "Catalogs", "Translator", "get_catalogs", "negotiate"]

"""Catalog loading and locale negotiation; every word a person reads passes through here."""

from bot.i18n.catalogs import LANGUAGES, CatalogError, Catalogs, Translator, get_catalogs
from bot.i18n.negotiate import negotiate

__all__ = ["LANGUAGES", "CatalogError", "Catalogs", "Translator", "get_catalogs", "negotiate"]

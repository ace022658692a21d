"""Keep the English catalog equal to the source text, so English is a complete catalog too.

``python -m bot.i18n.source`` (run by ``make update-catalogs``) copies every msgid of
``locales/en`` into its msgstr and clears fuzzy flags there; other languages are left
to translators.
"""

from __future__ import annotations

import sys

from babel.messages.pofile import write_po

from bot.i18n.check import po_path, read_catalog


def fill_english() -> int:
    """Make every English translation equal to its source text; return how many changed."""
    path = po_path("en")
    catalog = read_catalog(path)
    changed = 0
    for message in catalog:
        if not message.id:
            continue
        wanted = message.id if isinstance(message.id, str) else tuple(message.id)
        if message.string != wanted or message.fuzzy:
            message.string = wanted
            message.flags.discard("fuzzy")
            changed += 1
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, sort_by_file=True)
    return changed


if __name__ == "__main__":
    print(f"en: {fill_english()} messages set from the source text", file=sys.stderr)
    sys.exit(0)

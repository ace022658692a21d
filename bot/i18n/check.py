"""Catalog checks: every message present, nothing fuzzy, placeholders kept, length allowed.

``python -m bot.i18n.check --compiled`` (run by ``make catalogs``) refuses to go on when
a language's ``.mo`` is missing or older than its ``.po``. The tests call
:func:`problems` for the content checks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n.languages import DOMAIN, LANGUAGES, catalog_dirname, locales_dir

TELEGRAM_MAX_TEXT = 4096
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


def po_path(lang: str, directory: Path | None = None) -> Path:
    """Return the ``.po`` file of ``lang``."""
    return (directory or locales_dir()) / catalog_dirname(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> Catalog:
    """Read a ``.po`` or ``.pot`` file."""
    with path.open("rb") as handle:
        return read_po(handle)


def placeholders(text: str) -> set[str]:
    """Return the ``{named}`` placeholders of a message."""
    return set(_PLACEHOLDER.findall(text))


def _strings(message: Message) -> list[str]:
    if isinstance(message.string, (list, tuple)):
        return [s for s in message.string]
    return [message.string or ""]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def problems(lang: str, directory: Path | None = None) -> list[str]:
    """Return everything wrong with ``lang``'s catalog against the template."""
    directory = directory or locales_dir()
    template = read_catalog(directory / f"{DOMAIN}.pot")
    catalog = read_catalog(po_path(lang, directory))
    found: list[str] = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        label = f"{lang}: [{message.context or ''}] {_ids(message)[0][:60]!r}"
        if translated is None or not all(_strings(translated)):
            found.append(f"{label}: missing")
            continue
        if translated.fuzzy:
            found.append(f"{label}: fuzzy")
        wanted = set().union(*(placeholders(i) for i in _ids(message)))
        for text in _strings(translated):
            if placeholders(text) != wanted:
                found.append(
                    f"{label}: placeholders {sorted(placeholders(text))} != {sorted(wanted)}"
                )
            if len(text) > TELEGRAM_MAX_TEXT:
                found.append(
                    f"{label}: {len(text)} characters, Telegram allows {TELEGRAM_MAX_TEXT}"
                )
    return found


def stale_compiled(directory: Path | None = None) -> list[str]:
    """Return the languages whose ``.mo`` is missing or older than the ``.po``."""
    directory = directory or locales_dir()
    stale = []
    for lang in LANGUAGES:
        po = po_path(lang, directory)
        mo = po.with_suffix(".mo")
        if not po.is_file() or not mo.is_file() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(lang)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Check the catalogs from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bot.i18n.check")
    parser.add_argument(
        "--compiled", action="store_true", help="only check that .mo files are current"
    )
    args = parser.parse_args(argv)
    stale = stale_compiled()
    if stale:
        print(
            f"catalogs not compiled for: {', '.join(stale)}; run `make catalogs`", file=sys.stderr
        )
        return 1
    if args.compiled:
        return 0
    issues = [p for lang in LANGUAGES for p in problems(lang)]
    for issue in issues:
        print(issue, file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())

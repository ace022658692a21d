"""Catalog checks: every message present, nothing fuzzy, placeholders kept, length allowed,
one term per thing (``glossary.yaml``), and Arabic singular and dual forms that carry the
count in the noun ("أمر واحد", "أمران") instead of repeating the number.

``python -m bot.i18n.check --compiled`` (run by ``make catalogs``) refuses to go on when
a language's ``.mo`` is missing or older than its ``.po``. The tests call
:func:`problems` for the content checks.
"""

from __future__ import annotations

import argparse
import re
import sys
from functools import cache
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n.languages import DOMAIN, LANGUAGES, catalog_dirname, locales_dir

TELEGRAM_MAX_TEXT = 4096
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
COUNT = "n"  # the count of a plural message; a form may say it in words instead
ARABIC_ONE, ARABIC_TWO = 1, 2  # plural form indexes of n == 1 and n == 2 in ar


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
            got = placeholders(text)
            if message.pluralizable and COUNT not in got:
                got = got | {COUNT}
            if got != wanted:
                found.append(
                    f"{label}: placeholders {sorted(placeholders(text))} != {sorted(wanted)}"
                )
            if len(text) > TELEGRAM_MAX_TEXT:
                found.append(
                    f"{label}: {len(text)} characters, Telegram allows {TELEGRAM_MAX_TEXT}"
                )
    found += [f"{lang}: {p}" for p in glossary_problems(lang, catalog)]
    if lang == "ar":
        found += [f"{lang}: {p}" for p in arabic_count_problems(catalog)]
    return found


@cache
def glossary() -> dict[str, list[dict[str, object]]]:
    """Return the preferred terms per catalog folder, with the spellings to avoid."""
    path = Path(__file__).with_name("glossary.yaml")
    data: dict[str, list[dict[str, object]]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def glossary_problems(lang: str, catalog: Catalog) -> list[str]:
    """Return each message that writes a glossary term another way."""
    found = []
    for entry in glossary().get(catalog_dirname(lang), []):
        avoid = [str(v) for v in entry["not"]]  # type: ignore[attr-defined]
        for message in catalog:
            for text in _strings(message) if message.id else []:
                for variant in avoid:
                    if variant in text:
                        found.append(
                            f"{_ids(message)[0][:60]!r}: writes {variant!r}, "
                            f"the glossary says {entry['term']!r}"
                        )
    return found


def arabic_count_problems(catalog: Catalog) -> list[str]:
    """Return plural messages whose singular or dual form repeats the number.

    Arabic says "one thing" and "two things" with the noun alone (أمر واحد، أمران); a
    number before a dual noun ("2 أمران") is wrong.
    """
    found = []
    for message in catalog:
        if not message.pluralizable or not message.id:
            continue
        forms = _strings(message)
        for index in (ARABIC_ONE, ARABIC_TWO):
            if index < len(forms) and "{" + COUNT + "}" in forms[index]:
                found.append(
                    f"{_ids(message)[0][:60]!r}: form {index} repeats the number; "
                    "say it with the noun (واحد، ـان)"
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

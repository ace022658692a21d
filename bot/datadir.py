"""Where the flows and the language catalogs are: an override, or the copy inside the package.

``bot/_data/flows`` and ``bot/_data/locales`` are links to the repository's ``flows/`` and
``locales/``; a built wheel holds the files themselves there (package data), so an installed
bot finds them wherever it runs. ``FLOWS_DIR`` and ``LOCALES_DIR`` in the environment point
elsewhere (another trial's flows, catalogs kept outside the package).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str, variable: str) -> Path:
    """Return the folder ``name`` ("flows", "locales"): ``$variable`` when set, else the package's
    copy, else the source tree's (a checkout whose links were not made)."""
    override = os.environ.get(variable, "").strip()
    if override:
        return Path(override).expanduser()
    packaged = PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged.resolve()
    return PACKAGE.parent / name

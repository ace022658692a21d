"""Referral reference codes: ``CZ-XXXX-XXXX``, easy to read out on the phone."""

from __future__ import annotations

import secrets

REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L; 31**8 codes


def new_reference() -> str:
    """Return a new referral reference code, e.g. CZ-7K3M-Q9P2."""
    chars = "".join(secrets.choice(REF_ALPHABET) for _ in range(8))
    return f"CZ-{chars[:4]}-{chars[4:]}"

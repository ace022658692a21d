"""Checking contact details a patient types: phone numbers, names, e-mail addresses."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

DEFAULT_REGION = "CN"
MAX_NAME = 80
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,24}$")


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str | None:
    """Return the number in E.164 form ("+8613800138000"), or None when it is not valid."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip()
    if not cleaned or len(cleaned) > 40:
        return None
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(text: str) -> str | None:
    """Return a name fit to show on a card, or None when it is empty or not a name."""
    visible = "".join(
        ch for ch in unicodedata.normalize("NFC", text or "") if unicodedata.category(ch)[0] != "C"
    )
    name = " ".join(visible.split())
    if not name or len(name) > MAX_NAME or not any(ch.isalpha() for ch in name):
        return None
    return name


def clean_email(text: str) -> str | None:
    """Return a plausible e-mail address, or None."""
    address = unicodedata.normalize("NFKC", text or "").strip()
    return address if _EMAIL.match(address) else None

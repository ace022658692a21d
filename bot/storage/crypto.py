"""Personal data at rest: Fernet encryption and keyed hashes, both under DATA_ENCRYPTION_KEY.

One key, three uses, kept apart by HKDF:

* the Fernet key itself encrypts names, phones, e-mail, user names, chat ids, the engine's
  record and the patient's own words;
* an HMAC-SHA256 key derived with HKDF (info ``trialbot/lookup/v1``) turns a channel user id
  into the lookup hash stored instead of the id;
* a second derived key (info ``trialbot/key-check/v1``) makes the key check value stored in
  the ``meta`` table, so a wrong key is refused before anything is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.storage.errors import DecryptionError, InvalidKeyError, MissingKeyError

KEYGEN_HINT = (
    "Make one with `python -m bot keygen` and put it in .env as DATA_ENCRYPTION_KEY=<key>. "
    "Keep a copy somewhere safe: data written under a key cannot be read without it."
)


def generate_key() -> str:
    """A new random Fernet key, as the text to put in DATA_ENCRYPTION_KEY."""
    return Fernet.generate_key().decode("ascii")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class Crypto:
    """Encrypts and hashes personal values under one DATA_ENCRYPTION_KEY."""

    def __init__(self, key: str | None) -> None:
        if key is None or not key.strip():
            raise MissingKeyError(
                "DATA_ENCRYPTION_KEY is not set. Personal data is stored encrypted, "
                "so the bot needs a key. " + KEYGEN_HINT
            )
        key = key.strip()
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != 32:
            raise InvalidKeyError(
                "DATA_ENCRYPTION_KEY is not a valid key: expected the 44 characters of "
                "url-safe base64 that `python -m bot keygen` prints."
            )
        self._fernet = Fernet(key.encode("ascii"))
        self._lookup_key = _derive(raw, b"trialbot/lookup/v1")
        self._check = hmac.new(
            _derive(raw, b"trialbot/key-check/v1"), b"trialbot key check", hashlib.sha256
        ).hexdigest()

    @property
    def key_check(self) -> str:
        """A value that identifies the key without revealing it (stored in ``meta``)."""
        return self._check

    def lookup(self, value: str) -> str:
        """The keyed hash of an identifier such as ``"tg:12345"`` (64 hex characters)."""
        return hmac.new(self._lookup_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DecryptionError(
                "A stored value cannot be decrypted with DATA_ENCRYPTION_KEY "
                "(wrong key, or the data was altered)."
            ) from None

    def encrypt_opt(self, text: str | None) -> str | None:
        return None if text is None else self.encrypt(text)

    def decrypt_opt(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

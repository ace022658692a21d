"""Personal data at rest: Fernet encryption and keyed hashes under DATA_ENCRYPTION_KEYS.

DATA_ENCRYPTION_KEYS lists master keys, newest first (the single DATA_ENCRYPTION_KEY of older
set-ups is a list of one). Each master key is never used directly; HKDF-SHA256 (from
``cryptography``) derives from it, kept apart by their ``info``:

* the Fernet key (``trialbot/fernet/v2``) that encrypts names, phones, e-mail, user names, chat
  ids, the engine's record, answer values, the patient's own words and outbox payloads. A
  ``MultiFernet`` encrypts under the newest key and decrypts under any listed key; tokens
  written before derived keys existed (under the master key itself) still decrypt, and
  ``python -m bot rotate-key`` re-encrypts them;
* the key check (``trialbot/key-check/v1``) that says which key a database was first used with.

People are found by ``HMAC-SHA256(lookup secret, "tg:<id>")``. The lookup secret must never
change (every stored hash depends on it), while master keys must be replaceable, so the secret
is not tied to a key: it is made once per database (for a database from before key rotation,
it is the HKDF ``trialbot/lookup/v1`` key of its original master key, so existing hashes stay
valid), stored in ``meta.lookup_secret`` encrypted like any personal value, and re-encrypted by
``rotate-key`` with everything else. After a rotation the old master key can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.storage.errors import DecryptionError, InvalidKeyError, MissingKeyError

KEYGEN_HINT = (
    "Make one with `python -m bot keygen` and put it in .env as DATA_ENCRYPTION_KEYS=<key>. "
    "Keep a copy somewhere safe: data written under a key cannot be read without it."
)
FERNET_INFO = b"trialbot/fernet/v2"
LOOKUP_INFO = b"trialbot/lookup/v1"
CHECK_INFO = b"trialbot/key-check/v1"


def generate_key() -> str:
    """A new random Fernet key, as the text to put in DATA_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _raw(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidKeyError(
            "DATA_ENCRYPTION_KEYS holds a key that is not valid: expected the 44 characters "
            "of url-safe base64 that `python -m bot keygen` prints (several keys: separated "
            "by commas, newest first)."
        )
    return raw


class MasterKey:
    """One master key and what HKDF derives from it."""

    def __init__(self, key: str) -> None:
        self.raw = _raw(key.strip())
        self.fernet = Fernet(base64.urlsafe_b64encode(_derive(self.raw, FERNET_INFO)))
        self.legacy = Fernet(key.strip().encode("ascii"))  # tokens from before HKDF subkeys
        self.check = hmac.new(
            _derive(self.raw, CHECK_INFO), b"trialbot key check", hashlib.sha256
        ).hexdigest()
        self.lookup_secret = _derive(self.raw, LOOKUP_INFO)


class Crypto:
    """Encrypts and hashes personal values under DATA_ENCRYPTION_KEYS (newest first)."""

    def __init__(self, keys: str | Sequence[str] | None) -> None:
        if isinstance(keys, str):
            keys = [k for k in keys.split(",") if k.strip()]
        if not keys:
            raise MissingKeyError(
                "DATA_ENCRYPTION_KEYS is not set. Personal data is stored encrypted, "
                "so the bot needs a key. " + KEYGEN_HINT
            )
        self.keys = [MasterKey(k) for k in keys]
        self._fernet = MultiFernet([k.fernet for k in self.keys] + [k.legacy for k in self.keys])
        self._newest = self.keys[0].fernet
        self._lookup_key = self.keys[0].lookup_secret  # until the database's secret is set

    @property
    def key_check(self) -> str:
        """A value that identifies the newest key without revealing it (stored in ``meta``)."""
        return self.keys[0].check

    def key_for_check(self, check: str) -> MasterKey | None:
        """The listed key whose check value is ``check``, if any."""
        return next((k for k in self.keys if hmac.compare_digest(k.check, check)), None)

    def use_lookup_secret(self, secret: bytes) -> None:
        """Hash identifiers with the database's lookup secret from now on."""
        self._lookup_key = secret

    def lookup(self, value: str) -> str:
        """The keyed hash of an identifier such as ``"tg:12345"`` (64 hex characters)."""
        return hmac.new(self._lookup_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return _opened(self._fernet.decrypt, token, _UNREADABLE).decode("utf-8")

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is already encrypted under the newest key's Fernet key."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the newest key (its original time kept)."""
        return _opened(self._fernet.rotate, token, _NO_KEY).decode("ascii")

    def encrypt_opt(self, text: str | None) -> str | None:
        return None if text is None else self.encrypt(text)

    def decrypt_opt(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)


_UNREADABLE = (
    "A stored value cannot be decrypted with DATA_ENCRYPTION_KEYS "
    "(wrong key, or the data was altered)."
)
_NO_KEY = (
    "A stored value cannot be decrypted with any key in DATA_ENCRYPTION_KEYS; "
    "put the key it was written under back in the list."
)


def _opened(open_token: Callable[[bytes], bytes], token: str, failure: str) -> bytes:
    """``open_token(token)``, or a ``DecryptionError`` saying ``failure``."""
    try:
        return open_token(token.encode("ascii"))
    except InvalidToken:
        raise DecryptionError(failure) from None

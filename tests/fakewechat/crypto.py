"""The message signatures and safe-mode encryption, as WeChat's documentation describes them.

Written from the protocol (消息加解密说明), not from the bot's code: the key is the
43-character EncodingAESKey plus "=" decoded from base64 (32 bytes), the IV its first
16 bytes; the plaintext is 16 random bytes, the message length (4 bytes, network order),
the message and the app id, padded with PKCS#7 to a multiple of 32 bytes, AES-256-CBC.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def signature(*parts: str) -> str:
    """Return the SHA-1 of the sorted parts joined (``signature`` and ``msg_signature``)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")


def encrypt(aes_key: str, app_id: str, xml: str) -> str:
    """Return the base64 ciphertext of one message."""
    key = _key(aes_key)
    body = xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + app_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(aes_key: str, app_id: str, text: str) -> str:
    """Return the message of a ciphertext; ValueError when it is not for ``app_id``."""
    key = _key(aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(text)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    if plain[20 + length :].decode() != app_id:
        raise ValueError("message not for this app id")
    return plain[20 : 20 + length].decode()


def new_aes_key() -> str:
    """Return a new EncodingAESKey (43 characters)."""
    return base64.b64encode(os.urandom(32)).decode()[:43]

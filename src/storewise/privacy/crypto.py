"""Encryption of personal fields (email, name) at rest with Fernet (AES-128-CBC + HMAC).

A copied database file leaks no contact data without the key, which lives only in settings.

>>> cipher = FieldCipher(FieldCipher.generate_key())
>>> cipher.decrypt(cipher.encrypt("ada@example.com"))
'ada@example.com'
"""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken

from storewise.errors import ConfigError


class FieldCipher:
    """Encrypts and decrypts single text fields with one Fernet key."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
            self._key = key.encode() if isinstance(key, str) else bytes(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "the encryption key is not a valid Fernet key (32 url-safe base64 bytes); "
                "create one with `storewise keys encryption-key`"
            ) from exc

    @property
    def fingerprint(self) -> str:
        """A short, one-way fingerprint of the key: kept with the data so a store refuses a
        different key before it writes anything with it (it reveals nothing of the key)."""
        return hashlib.sha256(b"storewise field key\0" + self._key).hexdigest()[:16]

    @staticmethod
    def generate_key() -> str:
        """A new random key, as text to put in ``STOREWISE_ENCRYPTION_KEY``."""
        return Fernet.generate_key().decode()

    def encrypt(self, value: str) -> str:
        """Ciphertext of ``value`` as URL-safe text."""
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Plain text of a token made by :meth:`encrypt` with the same key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(
                "a personal field cannot be decrypted: the encryption key differs from the "
                "one it was stored with"
            ) from exc

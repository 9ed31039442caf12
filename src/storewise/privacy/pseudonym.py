"""Pseudonymous ids: a keyed HMAC of a customer id, stable for one installation and secret.

Analytics exports and logs carry ``p_<16 hex>`` instead of the customer's id: the same
customer always maps to the same pseudonym (joins and counts still work), and without the key
nobody can go back or test a guess. The key is ``pseudonym_key`` from the settings, else the
store's own secret.

>>> name = Pseudonymizer(b"k" * 32)
>>> name("C000123") == name("C000123"), name("C000123").startswith("p_"), len(name("x"))
(True, True, 18)
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymizer:
    """Maps customer ids to pseudonyms with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        self._key = key

    def __call__(self, customer_id: str) -> str:
        """The pseudonym of ``customer_id``."""
        digest = hmac.new(self._key, customer_id.encode(), hashlib.sha256).hexdigest()
        return "p_" + digest[:16]


__all__ = ["Pseudonymizer"]

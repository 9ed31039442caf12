"""Signed logins: a page may link its visitor to a customer only with the shop server's word.

``identify`` from a browser carries a ``signature``: HMAC-SHA256 of the customer id under the
publishable key's identity secret, computed by the shop's own server when it renders the page
after login (the scheme Chatwoot and Intercom call identity validation). Without it, anyone
could link their browser to a guessed customer id and see that customer's lists. The secret
is derived from the store's own secret and the key id, so nothing new is stored: ``storewise
keys identity-secret KEY_ID`` prints it for the shop's server.

>>> signer = IdentitySigner(lambda text: "s" * 64)
>>> signature = signer.sign("abc123", "C-42")
>>> signer.verify("abc123", "C-42", signature), signer.verify("abc123", "C-43", signature)
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable


class IdentitySigner:
    """Identity secrets of publishable keys, and the signatures of logins under them."""

    def __init__(self, hasher: Callable[[str], str]) -> None:
        """``hasher``: the store's keyed hash (``Store.id_hash``), the root of every secret."""
        self.hasher = hasher

    def secret(self, key_id: str) -> str:
        """The identity secret of a publishable key (give it to the shop's server only)."""
        return self.hasher("identify\x1f" + key_id)

    def sign(self, key_id: str, customer_id: str) -> str:
        """What the shop's server sends with ``storewise.identify(customerId, signature)``:
        hex HMAC-SHA256 of the customer id under the key's identity secret."""
        secret = self.secret(key_id).encode()
        return hmac.new(secret, customer_id.encode(), hashlib.sha256).hexdigest()

    def verify(self, key_id: str, customer_id: str, signature: str | None) -> bool:
        """Whether ``signature`` is the key's signature of ``customer_id`` (constant time)."""
        if not signature:
            return False
        return hmac.compare_digest(self.sign(key_id, customer_id), signature.strip().lower())

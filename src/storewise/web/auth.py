"""Dashboard sign-in: admin API keys, a signed session cookie and double-submit CSRF tokens.

- **Sign-in** takes an API key with the ``admin`` scope, checked against the store's
  ``api_keys`` table by :mod:`storewise.store.keys`, the API's own check (hashed secrets,
  constant-time comparison, revoked keys refused).
- **Session**: an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` over HTTPS) holding the key
  id, a CSRF token and an expiry, signed with HMAC-SHA256. The key itself is never stored in
  the cookie; every request re-checks that the key id still exists, is not revoked and still
  has the ``admin`` scope, so revoking a key ends its dashboard sessions at once.
- **Signing key**: the secret given to :func:`storewise.web.create_dashboard`, else a random
  secret kept in ``<home>/secrets/dashboard-session.key`` (created with mode 0600 on first use,
  shared by every worker process of one installation), else (read-only home) a random
  per-process secret. The store URL is mixed in, so a cookie of one store never opens another.
- **CSRF**: every form carries a token that must equal the ``sw_csrf`` cookie (double submit),
  carry a valid signature, and, once signed in, equal the token inside the signed session.
  Cross-origin POSTs (an ``Origin`` header naming another host) are refused as well.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from storewise.app import grants

if TYPE_CHECKING:
    from storewise.app import Services

log = logging.getLogger("storewise.web")

SESSION_COOKIE = "sw_session"
CSRF_COOKIE = "sw_csrf"
CSRF_FIELD = "csrf_token"
ADMIN_SCOPE = "admin"
SECRET_FILE = Path("secrets") / "dashboard-session.key"


@dataclass(frozen=True)
class Admin:
    """Who is signed in: the API key's id and name (never the key itself)."""

    key_id: str
    name: str | None = None

    @property
    def actor(self) -> str:
        """The audit-log actor for actions taken in the dashboard."""
        return f"dashboard:{self.key_id}"


@dataclass(frozen=True)
class Session:
    """A verified session: who, the CSRF token bound to it, and when it expires."""

    admin: Admin
    csrf: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(home: Path) -> bytes:
    """The installation's dashboard secret, created on first use; per-process if unwritable."""
    path = home / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    fresh = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(fresh.hex())
        return fresh
    except FileExistsError:  # another worker won the race: use its secret
        return bytes.fromhex(path.read_text().strip())
    except OSError:
        log.warning("cannot keep a dashboard secret in %s; sessions last one process", path)
        return fresh


class Signer:
    """Signs and verifies session cookies and CSRF tokens with one HMAC key."""

    def __init__(self, secret: bytes, scope: str) -> None:
        self._key = hmac.new(secret, b"storewise-dashboard|" + scope.encode(), "sha256").digest()

    def _mac(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{data}".encode(), "sha256").digest())

    # -- CSRF ------------------------------------------------------------------------------
    def new_csrf(self) -> str:
        """A fresh signed CSRF token (random part and its signature)."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac('csrf', nonce)}"

    def csrf_ok(self, token: str | None) -> bool:
        """True for a token this signer made."""
        if not token or token.count(".") != 1:
            return False
        nonce, mac = token.split(".")
        return hmac.compare_digest(mac, self._mac("csrf", nonce))

    # -- sessions ----------------------------------------------------------------------------
    def make_session(self, admin: Admin, csrf: str, lifetime_s: int) -> str:
        """The cookie value of a new session."""
        payload = {
            "k": admin.key_id,
            "n": admin.name,
            "c": csrf,
            "e": int(time.time()) + lifetime_s,
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"v1.{body}.{self._mac('session', body)}"

    def read_session(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None if absent, tampered with or expired."""
        if not cookie or cookie.count(".") != 2:
            return None
        version, body, mac = cookie.split(".")
        if version != "v1" or not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            payload: dict[str, Any] = json.loads(_unb64(body))
            expires = int(payload["e"])
            admin = Admin(str(payload["k"]), payload.get("n"))
            csrf = str(payload["c"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        return Session(admin, csrf, expires)


def same_origin(origin: str | None, host: str | None) -> bool:
    """False when an ``Origin`` header names a different host than the request's."""
    if not origin or origin == "null":
        return origin is None
    return bool(host) and urlsplit(origin).netloc.lower() == (host or "").lower()


# -- API keys ------------------------------------------------------------------------------------
def verify_key(services: Services, key: str) -> Admin | None:
    """The admin behind an API key, or None when it is unknown, revoked or lacks ``admin``.

    The check is the API's own (``KeyStore.verify``: hashed secrets, constant-time
    comparison), so a key works the same in the dashboard and the API.
    """
    info = services.keys.verify(key.strip())
    if info is None or not grants(info.scopes, ADMIN_SCOPE):
        return None
    return Admin(info.key_id, info.name)


def still_valid(services: Services, key_id: str) -> bool:
    """True while a signed-in key exists, is not revoked and keeps the ``admin`` scope."""
    found = services.keys.lookup(key_id)
    return found is not None and found[1].active and grants(found[1].scopes, ADMIN_SCOPE)


__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "Admin",
    "Session",
    "Signer",
    "load_secret",
    "same_origin",
    "still_valid",
    "verify_key",
]

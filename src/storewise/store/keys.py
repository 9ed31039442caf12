"""API keys: created once (shown once), stored only as a hash, checked in constant time.

A key reads ``sw_<key_id>_<secret>``: the key id is public (it names the key in lists, logs
and revocations), the secret is 256 random bits kept only as its SHA-256 (a plain hash is
enough for a random secret of that size; nothing to brute-force). Scopes are ``ingest``,
``read`` and ``admin``; ``admin`` implies the other two.

>>> from storewise.store import SqlStore
>>> keys = SqlStore.open("sqlite://").keys()
>>> created = keys.create(["read"], name="shop front")
>>> keys.verify(created.key).scopes
('read',)
>>> keys.verify(created.key + "x") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storewise.errors import InputError, NotFound
from storewise.store.tables import api_keys, ended_sessions

SCOPES = ("ingest", "read", "admin")
PREFIX = "sw_"
_KEY = re.compile(r"^sw_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_HASH_SCHEME = "sha256$"
# Compared against when the key id is unknown, so both paths cost the same.
_DUMMY_HASH = _HASH_SCHEME + hashlib.sha256(b"storewise-no-such-key").hexdigest()


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret (scheme-prefixed, so the scheme can change later)."""
    return _HASH_SCHEME + hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """Scopes from ``"read,ingest"`` or a list; unknown names are an InputError."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    scopes = tuple(dict.fromkeys(p.strip().lower() for p in parts if p.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InputError(
            f"unknown or missing scopes {unknown or list(parts)}; choose from {', '.join(SCOPES)}"
        )
    return scopes


def grants(scopes: Iterable[str], needed: str) -> bool:
    """Whether a key with ``scopes`` may do what needs ``needed`` (admin implies all)."""
    held = set(scopes)
    return needed in held or "admin" in held


@dataclass(frozen=True)
class KeyInfo:
    """One API key as listed: never its secret."""

    key_id: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is the only time the secret is ever available."""

    info: KeyInfo
    key: str


class KeyStore:
    """The ``api_keys`` table of a store: create, list, revoke and verify keys."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, scopes: Iterable[str], *, name: str | None = None) -> CreatedKey:
        """Create a key with ``scopes``; the returned plain key is not stored anywhere."""
        chosen = parse_scopes(list(scopes))
        if name is not None and len(name) > 200:
            raise InputError("a key name is at most 200 characters")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        created_at = int(time.time() * 1000)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    name=name,
                    key_hash=hash_secret(secret),
                    scopes=list(chosen),
                    created_at=created_at,
                    revoked_at=None,
                )
            )
        info = KeyInfo(key_id, name, chosen, created_at, None)
        return CreatedKey(info, f"{PREFIX}{key_id}_{secret}")

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        """Every key (oldest first), without secrets."""
        query = sa.select(
            api_keys.c.key_id,
            api_keys.c.name,
            api_keys.c.scopes,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [KeyInfo(k, n, tuple(s or ()), int(c), r) for k, n, s, c, r in rows]

    def has_active(self) -> bool:
        """Whether at least one key is not revoked (the server needs one to start)."""
        query = sa.select(sa.func.count()).where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one()) > 0

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key by id (idempotent); unknown ids are NotFound."""
        key_id = key_id.removeprefix(PREFIX).split("_", 1)[0]
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=int(time.time() * 1000))
            )
        found = [k for k in self.list_keys() if k.key_id == key_id]
        if not found:
            raise NotFound(f"no API key with id {key_id!r}")
        return found[0]

    def lookup(self, key_id: str) -> tuple[str, KeyInfo] | None:
        """(stored hash, info) of a key id, or None."""
        query = sa.select(
            api_keys.c.key_hash,
            api_keys.c.name,
            api_keys.c.scopes,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).where(api_keys.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        stored, name, scopes, created_at, revoked_at = row
        return str(stored), KeyInfo(key_id, name, tuple(scopes or ()), int(created_at), revoked_at)

    def end_session(self, token: str, until_s: int) -> None:
        """Remember that the dashboard session holding ``token`` was ended (sign-out) until it
        would have expired; expired entries are dropped on the way."""
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(ended_sessions.delete().where(ended_sessions.c.until < now))
            conn.execute(
                ended_sessions.insert().values(token_hash=_token_hash(token), until=until_s)
            )

    def session_ended(self, token: str) -> bool:
        """Whether the dashboard session holding ``token`` was signed out."""
        query = sa.select(ended_sessions.c.until).where(
            ended_sessions.c.token_hash == _token_hash(token)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def verify(self, key: str) -> KeyInfo | None:
        """The active key matching ``key``, or None (malformed, unknown, wrong or revoked)."""
        parsed = split_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        found = self.lookup(key_id)
        return check_secret(secret, found)


def _token_hash(token: str) -> str:
    return hashlib.sha256(b"storewise session\0" + token.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY.match(key.strip())
    return (match.group(1), match.group(2)) if match else None


def check_secret(secret: str, found: tuple[str, KeyInfo] | None) -> KeyInfo | None:
    """The key's info when ``secret`` matches its stored hash and it is active, in constant
    time whether or not the key id exists."""
    stored = found[0] if found is not None else _DUMMY_HASH
    same = hmac.compare_digest(hash_secret(secret).encode(), stored.encode())
    if found is None or not same or not found[1].active:
        return None
    return found[1]


__all__ = [
    "SCOPES",
    "CreatedKey",
    "KeyInfo",
    "KeyStore",
    "check_secret",
    "grants",
    "hash_secret",
    "parse_scopes",
    "split_key",
]

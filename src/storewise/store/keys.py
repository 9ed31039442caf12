"""API keys: created once (shown once), stored only as a hash, checked in constant time.

A key reads ``sw_<key_id>_<secret>``: the key id is public (it names the key in lists, logs
and revocations), the secret is 256 random bits kept only as its SHA-256 (a plain hash is
enough for a random secret of that size; nothing to brute-force). Scopes are ``ingest``,
``read`` and ``admin``; ``admin`` implies the other two.

``collect`` is the *publishable* scope, for a shop's web pages (``storewise.js``): such a key
is meant to sit in page source, so it grants nothing else (it cannot be combined with another
scope, and no other scope implies reading through it) and it carries the web origins browsers
may use it from (``https://shop.example``), checked by the API's CORS handling.

>>> from storewise.store import SqlStore
>>> keys = SqlStore.open("sqlite://").keys()
>>> created = keys.create(["read"], name="shop front")
>>> keys.verify(created.key).scopes
('read',)
>>> keys.verify(created.key + "x") is None
True
>>> web = keys.create(["collect"], name="shop pages", origins=["https://Shop.example/"])
>>> keys.verify(web.key).origins
('https://shop.example',)
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
from urllib.parse import urlsplit

import sqlalchemy as sa

from storewise.errors import InputError, NotFound
from storewise.store.tables import api_keys, ended_sessions

SCOPES = ("ingest", "read", "admin", "collect")
#: The scope of publishable keys: safe in page source, never combined with another scope.
PUBLISHABLE = "collect"
#: Most origins one publishable key may list.
MAX_ORIGINS = 20
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
    if PUBLISHABLE in scopes and len(scopes) > 1:
        raise InputError(
            "the collect scope is for publishable keys (they sit in page source): "
            "it cannot be combined with another scope; create two keys"
        )
    return scopes


def normalise_origin(text: str) -> str:
    """A web origin as browsers send it (``scheme://host[:port]``, lower case, no default
    port, no path); InputError for anything else (``*``, a path, a query, another scheme).

    >>> normalise_origin("HTTPS://Shop.Example:443/")
    'https://shop.example'
    """
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"origin {raw!r} is not a valid URL") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if (
        scheme not in ("http", "https")
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise InputError(
            f"origin {raw!r} must look like https://shop.example (scheme, host and an optional "
            "port; no path, no wildcard)"
        )
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def parse_origins(values: Iterable[str]) -> tuple[str, ...]:
    """Origins normalised, without repeats (see :func:`normalise_origin`)."""
    found = tuple(dict.fromkeys(normalise_origin(v) for v in values if v.strip()))
    if len(found) > MAX_ORIGINS:
        raise InputError(f"a key lists at most {MAX_ORIGINS} origins")
    return found


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
    #: Web origins a publishable key may be used from (empty for other keys).
    origins: tuple[str, ...] = ()

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
            "origins": list(self.origins),
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

    def create(
        self,
        scopes: Iterable[str],
        *,
        name: str | None = None,
        origins: Iterable[str] = (),
    ) -> CreatedKey:
        """Create a key with ``scopes``; the returned plain key is not stored anywhere.

        ``origins`` (publishable ``collect`` keys only, and at least one for them): the web
        origins browsers may use the key from.
        """
        chosen = parse_scopes(list(scopes))
        allowed = parse_origins(origins)
        if PUBLISHABLE in chosen and not allowed:
            raise InputError(
                "a collect key needs the web origins of the shop's pages, "
                "e.g. --origin https://shop.example"
            )
        if allowed and PUBLISHABLE not in chosen:
            raise InputError("only collect (publishable) keys take origins")
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
                    origins=list(allowed) if allowed else None,
                )
            )
        info = KeyInfo(key_id, name, chosen, created_at, None, allowed)
        return CreatedKey(info, f"{PREFIX}{key_id}_{secret}")

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        """Every key (oldest first), without secrets."""
        query = sa.select(
            api_keys.c.key_id,
            api_keys.c.name,
            api_keys.c.scopes,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.origins,
        ).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            KeyInfo(k, n, tuple(s or ()), int(c), r, tuple(o or ())) for k, n, s, c, r, o in rows
        ]

    def collect_origins(self) -> frozenset[str]:
        """Every origin some active publishable key may be used from (what a CORS preflight
        that names no key is checked against)."""
        return frozenset(
            origin
            for key in self.list_keys(include_revoked=False)
            if PUBLISHABLE in key.scopes
            for origin in key.origins
        )

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
            api_keys.c.origins,
        ).where(api_keys.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        stored, name, scopes, created_at, revoked_at, origins = row
        info = KeyInfo(
            key_id, name, tuple(scopes or ()), int(created_at), revoked_at, tuple(origins or ())
        )
        return str(stored), info

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
    "PUBLISHABLE",
    "SCOPES",
    "CreatedKey",
    "KeyInfo",
    "KeyStore",
    "check_secret",
    "grants",
    "hash_secret",
    "normalise_origin",
    "parse_origins",
    "parse_scopes",
    "split_key",
]

"""``storewise.js``, the snippet a shop pastes into its pages, as package data.

The file is read once per process and served as is (and gzip-compressed once, for browsers
that accept it). Its version is the ``VERSION`` constant written in the file; its ETag is a
hash of its bytes, so a changed file is fetched again even under the same version. A page
that loads ``/sdk/storewise.js?v=VERSION`` may cache it for a year (immutable); without the
version it is revalidated every few minutes.

>>> snippet = load_snippet()
>>> snippet.version == VERSION_PATTERN.search(snippet.text).group(1)
True
>>> len(snippet.gzipped) < 10 * 1024
True
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

VERSION_PATTERN = re.compile(r'VERSION = "([0-9]+\.[0-9]+\.[0-9]+)"')
#: Cache lifetimes: a versioned URL never changes; an unversioned one is rechecked.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=300"


@dataclass(frozen=True)
class Snippet:
    """The snippet's bytes (plain and gzip), version and ETag."""

    text: str
    body: bytes
    gzipped: bytes
    version: str
    etag: str

    def cache_control(self, asked_version: str | None) -> str:
        """How long a browser may keep the answer to a request naming ``asked_version``."""
        return VERSIONED_CACHE if asked_version == self.version else UNVERSIONED_CACHE


@lru_cache(maxsize=1)
def load_snippet() -> Snippet:
    """The packaged ``static/storewise.js`` (read once per process)."""
    text = resources.files("storewise.collect").joinpath("static/storewise.js").read_text("utf-8")
    found = VERSION_PATTERN.search(text)
    if found is None:
        raise RuntimeError("storewise.js states no VERSION constant")
    body = text.encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Snippet(
        text=text,
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=found.group(1),
        etag=f'"{found.group(1)}-{digest}"',
    )
